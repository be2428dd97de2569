"""The production server under the webhook: a real listen backlog and a
bounded worker pool on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading

import pytest
import requests

from tests.unit.test_ingest_parse import RecordingSink
from tests.unit.test_ingest_webhook import (
    NOTIFICATIONS_PATH,
    SECRET,
    envelope,
    running,
    signed,
)
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.webhook import INTERNAL_ERROR_COUNTER
from vitrage_selfheal.metrics import Counters

SENDERS = 300


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    return conf


def test_hundreds_of_concurrent_senders_all_get_their_answer(conf) -> None:
    clock = FakeClock(1_800_000_000.0)
    sink = RecordingSink()
    conf.set_override("workers", 8, group=ingest_opts.WEBHOOK_GROUP)
    start = threading.Barrier(SENDERS)

    def send(i: int) -> int:
        body = envelope(payload=None)
        body = body.replace(b'"2026-11-25 10:00:00.000000"',
                            f'"2026-11-25 10:{i // 60:02d}:{i % 60:02d}"'
                            .encode())
        headers = signed(body, clock.now())
        start.wait()
        with requests.Session() as session:
            return session.post(base + NOTIFICATIONS_PATH, data=body,
                                headers=headers, timeout=30).status_code

    with running(sink, conf, clock) as base:
        with concurrent.futures.ThreadPoolExecutor(SENDERS) as pool:
            statuses = list(pool.map(send, range(SENDERS)))
    assert statuses == [202] * SENDERS
    assert len(sink.requests) == SENDERS


@pytest.mark.parametrize("declared", [b"Content-Type: application/json\r\n",
                                      b""], ids=["json", "untyped"])
def test_a_silent_client_does_not_pin_a_worker(conf, caplog,
                                               declared) -> None:
    clock = FakeClock(1_800_000_000.0)
    conf.set_override("workers", 1, group=ingest_opts.WEBHOOK_GROUP)
    conf.set_override("request_timeout", 1.0,
                      group=ingest_opts.WEBHOOK_GROUP)
    sink, counters = RecordingSink(), Counters()
    with running(sink, conf, clock, counters=counters) as base, \
            caplog.at_level(logging.WARNING):
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as silent:
            # Announces a body it never sends; the one worker waits for it
            # (read for the JSON, drained for the 415) until the timeout.
            silent.sendall(b"POST /v1/notifications HTTP/1.1\r\n"
                           b"Host: x\r\n" + declared +
                           b"Content-Length: 1000\r\n\r\n")
            body = envelope()
            answer = requests.post(base + NOTIFICATIONS_PATH, data=body,
                                   headers=signed(body, clock.now()),
                                   timeout=15)
            silent.settimeout(5)
            told = silent.recv(200)
    assert answer.status_code == 202
    assert told.startswith(b"HTTP/1.1 408 ")
    # A connection problem, not a bug of ours: no traceback, no count.
    assert counters.get(INTERNAL_ERROR_COUNTER) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
