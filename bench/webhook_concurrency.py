"""Concurrent senders against the webhook receiver, with a baseline.

N senders (threads, one fresh connection each) POST one signed
notification at the same moment. Measured: the `serve` server (cheroot,
bounded pool, listen backlog from [selfheal_webhook] backlog). Baseline,
in the same process on the same app: a thread-per-connection
socketserver with the standard library's listen backlog of 5, the shape
`serve` had before. Reported: answers per status, connection errors
(resets, refused), wall time. The sink records in memory, so the server
is what is measured.

    python bench/webhook_concurrency.py [--senders 1000] [--json]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import json
import pathlib
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref import simple_server

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vitrage_selfheal.ingest import opts as ingest_opts  # noqa: E402
from vitrage_selfheal.ingest.webhook import (  # noqa: E402
    NOTIFICATIONS_PATH,
    WebhookApp,
    make_server,
    sign,
)
from vitrage_selfheal.model import Action, Decision, Reason  # noqa: E402

SECRET = "bench-secret"


class _Sink:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def submit(self, request: Any) -> list[Decision]:
        with self._lock:
            self.count += 1
        return [Decision(Action.ACCEPT, Reason.FIRST_HEAL)]

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Any = None) -> Decision:
        return Decision(Action.REJECT, reason, detail)


def _body(i: int) -> bytes:
    unit = {"vitrage_type": "heat.unit",
            "id": f"root-{i % 50}/group-{i % 50}/member-{i}"}
    return json.dumps({"notification": "vitrage.deduced_alarm.activate",
                       "payload": {"name": "selfheal.heal: bench",
                                   "resource": unit}}).encode()


def _cause(exc: BaseException) -> str:
    """The socket error under requests' and urllib3's wrappers, by name:
    ConnectionResetError (the backlog overflowed), ConnectionRefusedError,
    TimeoutError; else the outermost exception's name."""
    todo: list[object] = [exc]
    # Bounded: a chain of exceptions can loop back on itself.
    for _ in range(64):
        if not todo:
            break
        seen = todo.pop()
        if isinstance(seen, OSError) and type(seen).__module__ == "builtins":
            return type(seen).__name__
        if isinstance(seen, BaseException):
            todo.extend(seen.args)
            todo.extend(e for e in (seen.__cause__, seen.__context__) if e)
            todo.extend(a for a in (getattr(seen, "reason", None),) if a)
    return type(exc).__name__


class _Baseline(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    # request_queue_size stays socketserver's default: 5.


class _Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serving(kind: str, conf: Any, sink: _Sink) -> Iterator[str]:
    if kind == "selfheal":
        server: Any = make_server(sink, conf, "127.0.0.1", 0)
    else:
        server = simple_server.make_server(
            "127.0.0.1", 0, WebhookApp(sink, conf), server_class=_Baseline,
            handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}{NOTIFICATIONS_PATH}"
    finally:
        server.shutdown()
        server.server_close()


def run(kind: str, senders: int) -> dict[str, Any]:
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    sink = _Sink()
    barrier = threading.Barrier(senders)

    def send(i: int) -> str:
        body = _body(i)
        headers = {"Content-Type": "application/json",
                   **sign(SECRET, body, time.time())}
        barrier.wait()
        try:
            with requests.Session() as session:
                return str(session.post(url, data=body, headers=headers,
                                        timeout=60).status_code)
        except requests.RequestException as exc:
            return _cause(exc)

    with _serving(kind, conf, sink) as url:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(senders) as pool:
            answers = collections.Counter(pool.map(send, range(senders)))
        took = time.monotonic() - started
    errors = sum(n for k, n in answers.items() if not k.isdigit())
    return {"senders": senders, "answers": dict(answers),
            "connection_errors": errors, "recorded": sink.count,
            "seconds": round(took, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--senders", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"selfheal": run("selfheal", args.senders),
              "baseline": run("baseline", args.senders)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, r in result.items():
        print(f"{name:9} {r['senders']} senders: {r['answers']}, "
              f"{r['connection_errors']} connection errors, "
              f"{r['recorded']} recorded, {r['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
