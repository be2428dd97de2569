"""The Aodh alarm bodies `vitrage-selfheal autoscale` puts, and put_alarm's
create-or-update against a recording session."""

from __future__ import annotations

import json

import pytest

from vitrage_selfheal.ingest import aodh_alarms


class Answer:
    def __init__(self, status: int, doc) -> None:
        self.status_code = status
        self._doc = doc
        self.text = json.dumps(doc) if doc is not None else "<html>"

    def json(self):
        if self._doc is None:
            raise ValueError("not JSON")
        return self._doc


class Session:
    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list = []

    def request(self, url, method, json=None, timeout=None, raise_exc=True):
        self.calls.append((method, url, json))
        return self.answers.pop(0)


RULE = aodh_alarms.LoadRule(metric="cpu_util",
                            query=aodh_alarms.default_query("root-1"),
                            granularity=60)


def body():
    return aodh_alarms.alarm_body("n", "http://h/v1/scale/t", RULE, "gt", 70)


def test_the_alarm_body_points_at_the_link_and_repeats():
    doc = body()
    rule = doc["gnocchi_aggregation_by_resources_threshold_rule"]
    assert doc["type"] == "gnocchi_aggregation_by_resources_threshold"
    assert doc["alarm_actions"] == ["http://h/v1/scale/t"]
    assert doc["repeat_actions"] is True
    assert json.loads(rule["query"]) == {"=": {"server_group": "root-1"}}
    assert (rule["metric"], rule["comparison_operator"], rule["threshold"],
            rule["granularity"], rule["resource_type"]) == (
        "cpu_util", "gt", 70, 60, "instance")


def test_put_creates_a_missing_alarm_and_updates_an_existing_one():
    new = Session(Answer(200, []), Answer(201, {"alarm_id": "a1"}))
    assert aodh_alarms.put_alarm(new, "http://aodh", body()) == "a1"
    assert [(m, u.split("?")[0]) for m, u, _ in new.calls] == [
        ("GET", "http://aodh/v2/alarms"), ("POST", "http://aodh/v2/alarms")]
    assert "q.value=n" in new.calls[0][1]
    old = Session(Answer(200, [{"alarm_id": "a1", "name": "n"}]),
                  Answer(200, {"alarm_id": "a1"}))
    assert aodh_alarms.put_alarm(old, "http://aodh/", body()) == "a1"
    assert old.calls[1][:2] == ("PUT", "http://aodh/v2/alarms/a1")


@pytest.mark.parametrize("answers, named", [
    ((Answer(401, {"error": "x"}),), "HTTP 401"),
    ((Answer(200, []), Answer(400, {"faultstring": "bad query"})),
     "bad query"),
    ((Answer(200, []), Answer(201, {"name": "n"})), "no alarm_id"),
    ((Answer(200, None),), "not JSON"),
])
def test_a_refusal_or_odd_answer_is_named(answers, named):
    with pytest.raises(aodh_alarms.AodhError, match=named):
        aodh_alarms.put_alarm(Session(*answers), "http://aodh", body())
