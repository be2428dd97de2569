"""Exceptions that cross layers: the ingest side's contract with its sink."""


class NotRecorded(Exception):
    """The ledger could not take the request: nothing of it was stored.

    The receiver must not acknowledge it (the webhook answers 503 so the
    sender retries; the in-process notifier spools it to disk).
    """


class Replayed(Exception):
    """This signed delivery was applied before: applying it again could
    heal a healthy replacement or cancel a real heal."""
