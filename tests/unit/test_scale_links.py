"""Scale links (capability URLs for Aodh alarm actions) and the Aodh
action body, alone and over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
import requests

from tests.unit.test_ingest_parse import RecordingSink
from tests.unit.test_ingest_webhook import SECRET, running
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ingest import aodh, scale_links
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.results import Ignored, Rejection
from vitrage_selfheal.ingest.webhook import UNAUTHENTICATED_COUNTER
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupRef,
    Reason,
    ScaleRequest,
)

GROUP = GroupRef(root_stack_id="root-1", group_stack_id="nested-1",
                 parent_stack_id="root-1", resource_name="asg")
OUT = scale_links.ScaleLink(GROUP, 1)


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    return conf


def aodh_body(current="alarm", **extra):
    body = {"alarm_name": "load high", "alarm_id": "a-1",
            "severity": "moderate", "previous": "ok", "current": current,
            "reason": "Transition to alarm due to 1 samples outside "
                      "threshold, most recent: 91.0",
            "reason_data": {"type": "threshold"}}
    body.update(extra)
    return body


def test_a_token_reads_back_as_its_link():
    token = scale_links.token(SECRET, OUT)
    assert scale_links.read(SECRET, token) == OUT
    down = scale_links.ScaleLink(GROUP, -2)
    assert scale_links.read(SECRET, scale_links.token(SECRET, down)) == down
    assert scale_links.url("http://h:1/", SECRET, OUT) == \
        f"http://h:1/v1/scale/{token}"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # MAC
    lambda t: "x" + t,                       # body no longer base64 of ours
    lambda t: t.split(".")[0],               # no MAC at all
    lambda t: "",
    lambda t: "é" * 10,
    lambda t: "a" * 5000,
])
def test_a_forged_or_mangled_token_is_refused(mangle):
    with pytest.raises(scale_links.LinkInvalid):
        scale_links.read(SECRET, mangle(scale_links.token(SECRET, OUT)))


def test_a_token_of_another_secret_does_not_pass():
    token = scale_links.token(SECRET, OUT)
    with pytest.raises(scale_links.LinkInvalid, match="not issued"):
        scale_links.read("other", token)


def test_a_link_needs_a_secret_and_a_step():
    with pytest.raises(ValueError, match="secret"):
        scale_links.token("", OUT)
    with pytest.raises(ValueError, match="not be 0"):
        scale_links.token(SECRET, scale_links.ScaleLink(GROUP, 0))


def test_an_alarm_state_asks_for_the_step():
    parsed = aodh.parse_action(aodh_body(), OUT)
    assert parsed == ScaleRequest(
        group=GROUP, delta=1, source="aodh", alarm_key="aodh:a-1",
        detail="Aodh alarm 'load high': Transition to alarm due to 1 "
               "samples outside threshold, most recent: 91.0")


@pytest.mark.parametrize("state", ["ok", "insufficient data"])
def test_other_states_are_ignored(state):
    parsed = aodh.parse_action(aodh_body(state), OUT)
    assert isinstance(parsed, Ignored)
    assert state in parsed.detail and "asg" in parsed.detail


@pytest.mark.parametrize("body, named", [
    ([], "not an object"),
    ({"current": "alarm"}, "no alarm_id"),
    (aodh_body(alarm_id=7), "no alarm_id"),
    (aodh_body(current=None), "no state 'current'"),
])
def test_malformed_actions_are_named(body, named):
    parsed = aodh.parse_action(body, OUT)
    assert isinstance(parsed, Rejection) and parsed.reason is Reason.MALFORMED
    assert named in parsed.detail


class ScalingSink(RecordingSink):
    def __init__(self, fail_scale: bool = False) -> None:
        super().__init__()
        self.scales: list[ScaleRequest] = []
        self.fail_scale = fail_scale

    def scale(self, request):
        if self.fail_scale:
            raise RuntimeError("ledger down (test)")
        self.scales.append(request)
        return [Decision(Action.SCALE, Reason.SCALE_OUT, "+1 queued",
                         root_stack_id=request.group.root_stack_id)]


def post_action(base, link_url_or_path, body):
    return requests.post(base + link_url_or_path, json=body, timeout=5)


def test_an_aodh_action_on_a_link_is_a_scale_request(conf):
    sink, counters = ScalingSink(), Counters()
    with running(sink, conf, FakeClock(), counters=counters) as base:
        path = scale_links.url("", SECRET, OUT)
        answer = post_action(base, path, aodh_body())
        assert answer.status_code == 202, answer.text
        assert answer.json()["outcome"] == "submitted"
        # Aodh repeats while the alarm holds: each is a request (the
        # decision layer merges them), never a replay refusal.
        assert post_action(base, path, aodh_body()).status_code == 202
        ok = post_action(base, path, aodh_body("ok"))
        assert ok.status_code == 200 and ok.json()["outcome"] == "ignored"
    assert [s.delta for s in sink.scales] == [1, 1]
    assert sink.rejects == []


def test_a_forged_link_is_refused_at_the_door(conf):
    sink, counters = ScalingSink(), Counters()
    with running(sink, conf, FakeClock(), counters=counters) as base:
        path = scale_links.url("", "not-our-secret", OUT)
        answer = post_action(base, path, aodh_body())
        get = requests.get(base + path, timeout=5)
    assert answer.status_code == 401
    assert get.status_code == 405
    assert sink.scales == [] and sink.rejects == []
    assert counters.snapshot()[UNAUTHENTICATED_COUNTER] == 1


def test_a_malformed_action_is_recorded_and_a_second_one_too(conf):
    sink = ScalingSink()
    with running(sink, conf, FakeClock()) as base:
        path = scale_links.url("", SECRET, OUT)
        first = post_action(base, path, {"current": "alarm"})
        second = post_action(base, path, {"current": "alarm"})
        raw = requests.post(base + path, data=b"{nope",
                            headers={"Content-Type": "application/json"},
                            timeout=5)
    assert [first.status_code, second.status_code, raw.status_code] == \
        [400, 400, 400]
    # Unsigned: no delivery id, so a repeat is not taken for a replay.
    assert [r[0] for r in sink.rejects] == [Reason.MALFORMED] * 3
    assert "no alarm_id" in sink.rejects[0][1]


def test_a_sink_failure_is_503_and_counted(conf):
    sink, counters = ScalingSink(fail_scale=True), Counters()
    with running(sink, conf, FakeClock(), counters=counters) as base:
        answer = post_action(base, scale_links.url("", SECRET, OUT),
                             aodh_body())
    assert answer.status_code == 503
    assert counters.snapshot()["webhook.scale_not_recorded"] == 1


def test_notifications_still_need_their_signature(conf):
    # A valid link token is no signature for the notification endpoint.
    sink = ScalingSink()
    with running(sink, conf, FakeClock()) as base:
        body = json.dumps({"notification": "x", "payload": {}}).encode()
        headers = {"Content-Type": "application/json",
                   "X-Selfheal-Timestamp": "0",
                   "X-Selfheal-Signature": "sha256=" +
                   scale_links.token(SECRET, OUT).split(".")[1]}
        answer = requests.post(base + "/v1/notifications", data=body,
                               headers=headers, timeout=5)
    assert answer.status_code == 401
