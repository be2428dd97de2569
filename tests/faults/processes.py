"""Plugin replicas as processes (tests/faults/replica.py), from the tests'
side: configuration, start, post, wait for the kill, stop."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

import requests

from tests.faults import notify
from vitrage_selfheal import paths

START_TIMEOUT = 90


def write_conf(path: Path, ledger_url: str, coordination_url: str,
               replica_id: str, policy: str = "") -> Path:
    """A selfheal.conf as an operator would write it for this replica."""
    state = path.parent / f"state-{replica_id}"
    path.write_text(
        f"[selfheal]\nstate_path = {state}\nledger_url = {ledger_url}\n"
        f"coordination_url = {coordination_url}\n"
        f"replica_id = {replica_id}\ntick_interval = 0.2\nworkers = 4\n"
        f"[selfheal_policy]\ncoalesce_window = 1\n{policy}"
        f"[mistral]\npoll_delay = 1\nconflict_delay = 2\n"
        f"follow_interval = 1\n"
        f"[openstack]\ncloud = devcloud\n"
        f"[selfheal_webhook]\nsecret = {notify.SECRET}\n")
    return path


class Replica:
    def __init__(self, conf: Path, log: Path,
                 die_at: Optional[str] = None) -> None:
        command = [sys.executable, "-m", "tests.faults.replica",
                   "--config-file", str(conf)]
        if die_at:
            command += ["--die-at", die_at]
        self.log = log
        with open(log, "ab") as err:
            self.process = subprocess.Popen(
                command, cwd=paths.CHECKOUT, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=err, text=True)
        self.port = 0
        # Lines of its stdout; a thread reads them so a wait can time out.
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)

    def wait_listening(self) -> Replica:
        hello = self._line(START_TIMEOUT)
        assert hello and "port" in hello, \
            f"replica did not start: {hello!r}\n{self.tail()}"
        self.port = json.loads(hello)["port"]
        return self

    def _line(self, timeout: float) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    def post(self, data: bytes, ts: Optional[float] = None
             ) -> requests.Response:
        return notify.post(self.port, data, ts)

    def wait_killed(self, timeout: float = 120) -> str:
        """Its own SIGKILL: the line it printed just before."""
        dying = self._line(timeout)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"replica still alive after {dying!r}:\n"
                                 f"{self.tail()}") from None
        assert code == -9, f"exit {code}, not SIGKILL:\n{self.tail()}"
        return json.loads(dying)["dying"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])
