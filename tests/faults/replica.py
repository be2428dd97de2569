"""One plugin replica in a process of its own, for the fault tests.

`python -m tests.faults.replica --config-file F [--die-at POINT]` runs
what `vitrage-selfheal serve` runs (the App: healer and ticker, behind
the signed webhook receiver), on 127.0.0.1 and a free port, and prints
`{"port": N}` once it listens.

`--die-at` makes the process SIGKILL itself at its first execution start:
`before-dispatch` once the ledger has committed the attempt and before
the POST to Mistral, `after-dispatch` once Mistral has answered the POST
and before the ledger records that. The seam is the Dispatcher the App
is given (the one interface between the decisions and Mistral): the
product's code runs unchanged up to the kill.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, Optional

from vitrage_selfheal.dispatch.base import Execution
from vitrage_selfheal.model import Unit

POINTS = ("before-dispatch", "after-dispatch")


class DieAt:
    """A Dispatcher that SIGKILLs its process around the first start."""

    def __init__(self, inner: Any, point: str) -> None:
        self.inner = inner
        self.point = point

    def _die(self, where: str) -> None:
        print(json.dumps({"dying": where}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str) -> Execution:
        if self.point == "before-dispatch":
            self._die(f"before POST {execution_id}")
        started = self.inner.start(execution_id, root_stack_id, units,
                                   reason)
        if self.point == "after-dispatch":
            self._die(f"after POST {execution_id} ({started.state.value})")
        return started

    def get(self, execution_id: str) -> Execution:
        return self.inner.get(execution_id)

    def cancel(self, execution_id: str, reason: str) -> Execution:
        return self.inner.cancel(execution_id, reason)


def _interrupt(signum: int, frame: Any) -> None:
    # SIGTERM ends the serving loop as Ctrl-C ends `serve`'s.
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.faults.replica")
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--die-at", choices=POINTS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: "
               "%(message)s")

    from vitrage_selfheal import clients
    from vitrage_selfheal.app import App, load_config
    from vitrage_selfheal.ingest import webhook

    conf = load_config([args.config_file])
    conn = clients.connection(conf)
    dispatcher: Any = clients.mistral_dispatcher(conf, conn)
    if args.die_at:
        dispatcher = DieAt(dispatcher, args.die_at)
    app = App(conf, dispatcher=dispatcher,
              status=clients.HeatStatus(conn)).start()
    server = webhook.make_server(app, conf, "127.0.0.1", 0)
    signal.signal(signal.SIGTERM, _interrupt)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
