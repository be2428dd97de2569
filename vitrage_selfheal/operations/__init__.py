"""Stack operations: admission of requests, the per-root-stack queue, the
one gate every start passes, and the runner that starts, follows, cancels
and retries executions."""
