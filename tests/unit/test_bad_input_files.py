"""Bad-input campaign, the files: scenario files, Vitrage templates and
configuration files, each malformed in its own ways.

Each case checks that the error is named (an exception type, a message
naming the bad field or option, the file), and that the same process
goes on to load a good file (nothing wedged, nothing half-loaded).
"""

from __future__ import annotations

import pytest
from oslo_config import cfg

from tests.unit.test_ingest_parse import RecordingSink
from vitrage_selfheal.app import load_config
from vitrage_selfheal.ingest.webhook import WebhookApp
from vitrage_selfheal.simulate import scenario as scenario_file

# --- scenario files ---------------------------------------------------------

SCENARIOS = [
    ("scn-not-yaml", "a: [", ["while parsing"]),
    ("scn-tab", "name:\t- x", ["found character '\\t'"]),
    ("scn-list", "- a", ["scenario.yaml: expected a mapping, got list"]),
    ("scn-scalar", "hello", ["expected a mapping, got str"]),
    ("scn-empty", "", ["expected a mapping, got NoneType"]),
    ("scn-topology-list", "topology: [1]", [".topology: expected a mapping"]),
    ("scn-hosts-str", "topology: {hosts: h1}",
     [".topology.hosts: expected a list, got str"]),
    ("scn-instance-no-host", "topology: {hosts: [h1], instances: [{id: i}]}",
     [".topology.instances[0].host: required"]),
    ("scn-instance-unknown-host",
     "topology: {hosts: [h1], instances: [{id: i, host: h2}]}",
     [".topology.instances[0].host: 'h2' is not in topology.hosts"]),
    ("scn-instance-no-id", "topology: {hosts: [h1], instances: [{host: h1}]}",
     [".topology.instances[0].id: required"]),
    ("scn-unit-unknown-server",
     "topology: {stacks: [{id: s, groups: [{name: g, stack_id: gs, "
     "units: [{name: u, servers: [nope]}]}]}]}",
     [".groups[0].units[0].servers: 'nope' is not in topology.instances"]),
    ("scn-group-no-stack-id",
     "topology: {stacks: [{id: s, groups: [{name: g}]}]}",
     [".groups[0].stack_id: required"]),
    ("scn-switch-unknown-host",
     "topology: {hosts: [h1], switches: [{id: sw, hosts: [h9]}]}",
     [".switches[0].hosts: 'h9' is not in topology.hosts"]),
    ("scn-event-no-at", "timeline: [{host_down: h1}]",
     [".timeline[0].at: expected a number, got None"]),
    ("scn-event-at-str", "timeline: [{at: soon, host_down: h1}]",
     [".timeline[0].at: expected a number, got 'soon'"]),
    ("scn-event-at-negative", "timeline: [{at: -1, host_down: h1}]",
     [".timeline[0].at: must not be negative"]),
    ("scn-event-at-nan", "timeline: [{at: .nan, host_down: h1}]",
     [".timeline[0].at: expected a finite number"]),
    ("scn-event-at-inf", "timeline: [{at: .inf, host_down: h1}]",
     [".timeline[0].at: expected a finite number"]),
    ("scn-event-at-bool", "timeline: [{at: true, host_down: h1}]",
     ["expected a number, got True"]),
    ("scn-event-at-date", "timeline: [{at: 2026-01-01, host_down: h1}]",
     ["expected a number, got datetime.date"]),
    ("scn-event-two-kinds", "timeline: [{at: 1, host_down: h, host_up: h}]",
     ["needs 'at' and exactly one of"]),
    ("scn-event-unknown", "timeline: [{at: 1, explode: h}]",
     ["unknown event 'explode'"]),
    ("scn-duration-huge", "duration: 1" + "0" * 400,
     [".duration: too large"]),
    ("scn-heal-duration-str", "heal_duration: long",
     [".heal_duration: expected a number"]),
    ("scn-policy-list", "policy: [1]", [".policy: expected a mapping"]),
    ("scn-deep", "a: " + "[" * 5000 + "]" * 5000,
     ["cannot be read: RecursionError"]),
    ("scn-int-too-long", "name: x\nduration: " + "1" * 5000,
     ["cannot be read: ValueError"]),
]


@pytest.mark.parametrize("text, words", [
    pytest.param(*case[1:], id=case[0]) for case in SCENARIOS])
def test_bad_scenario_file(tmp_path, text, words) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(scenario_file.ScenarioError) as raised:
        scenario_file.load(path)
    for word in words:
        assert word in str(raised.value)
    assert str(path) in str(raised.value)
    # The same process loads a good one right after.
    path.write_text("name: ok\ntopology: {hosts: [h1]}\n"
                    "timeline: [{at: 1, host_down: h1}]\n")
    assert scenario_file.load(path).timeline[0].kind == "host_down"


@pytest.mark.parametrize("content, words", [
    pytest.param(b"\xff\xfename: x", ["not UTF-8 text"], id="scn-binary"),
    pytest.param(None, ["No such file"], id="scn-missing"),
])
def test_unreadable_scenario_file(tmp_path, content, words) -> None:
    path = tmp_path / "scenario.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(scenario_file.ScenarioError) as raised:
        scenario_file.load(path)
    for word in words:
        assert word in str(raised.value)


# --- Vitrage template files -------------------------------------------------

V3 = "metadata:\n  version: 3\n  name: x\n  type: standard\n"
TEMPLATES = [
    ("tpl-not-yaml", "a: [\n", 5, ["expected the node content"]),
    ("tpl-tab", "metadata:\n\tversion: 3\n", 5, ["'\\t'"]),
    ("tpl-empty", "", 5, ["empty document"]),
    ("tpl-list", "- a\n", 5, ["the top level is a list"]),
    ("tpl-scalar", "hello\n", 5, ["the top level is a scalar"]),
    ("tpl-undefined-alias", "a: &x [1]\nb: *y\n", 5,
     ["found undefined alias 'y'"]),
    ("tpl-deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", 5,
     ["nested too deeply"]),
    ("tpl-no-metadata", "entities: {}\nscenarios: []\n", 62,
     ["metadata is a mandatory section"]),
    ("tpl-metadata-str", "metadata: x\n", None,
     ["Vitrage's validator failed: AttributeError"]),
    ("tpl-version-9", V3.replace("3", "9", 1) + "entities: {}\n"
     "scenarios: []\n", 63, ["version '9'; this Vitrage supports"]),
    # Which missing section Vitrage names first depends on set order.
    ("tpl-no-sections", "metadata:\n  name: \"a\\0\"\n", ...,
     ["is a mandatory section"]),
    ("tpl-unknown-entity", V3 + "entities:\n  host:\n    type: nova.host\n"
     "scenarios:\n  - condition: host [contains] nothing\n    actions:\n"
     "      - set_state:\n          state: ERROR\n          target: host\n",
     10200, ["unknown entity id"]),
    ("tpl-unknown-action", V3 + "entities:\n  host:\n    type: nova.host\n"
     "scenarios:\n  - condition: host\n    actions:\n      - explode:\n"
     "          target: host\n", 4, ["extra keys not allowed"]),
    ("tpl-definitions-int", "metadata:\n  version: 2\n  name: d\n"
     "  type: definition\ndefinitions: 5\n", 4, ["expected dict"]),
]


@pytest.mark.parametrize("text, code, words", [
    pytest.param(*case[1:], id=case[0]) for case in TEMPLATES])
def test_bad_template_file(tmp_path, text, code, words) -> None:
    pytest.importorskip("vitrage")
    from vitrage_selfheal.templates import validate

    path = tmp_path / "t.yaml"
    path.write_text(text)
    [result] = validate.validate_paths([path])
    assert not result.valid
    assert code is ... or result.code == code, result.line()
    for word in words:
        assert word in result.line(), result.line()


@pytest.mark.parametrize("make, words", [
    pytest.param(lambda d: d.joinpath("b.yaml").write_bytes(b"\xff\x00"),
                 ["not UTF-8 text"], id="tpl-binary"),
    pytest.param(lambda d: None, ["no *.yaml template files"],
                 id="tpl-empty-dir"),
])
def test_unreadable_template_folder(tmp_path, make, words) -> None:
    pytest.importorskip("vitrage")
    from vitrage_selfheal.templates import validate

    make(tmp_path)
    [result] = validate.validate_paths([tmp_path])
    assert not result.valid
    for word in words:
        assert word in result.line()
    [missing] = validate.validate_paths([tmp_path / "nope.yaml"])
    assert missing.message == "no such file or directory"


# --- configuration files ----------------------------------------------------

VALUE_ERROR = cfg.ConfigFileValueError
CONFIGS = [
    ("cfg-tick-word", "[selfheal]\ntick_interval = fast\n", VALUE_ERROR,
     ["tick_interval", "could not convert"]),
    ("cfg-tick-low", "[selfheal]\ntick_interval = 0.001\n", VALUE_ERROR,
     ["tick_interval", "greater than or equal to 0.05"]),
    ("cfg-tick-nan", "[selfheal]\ntick_interval = nan\n", cfg.Error,
     ["[selfheal] tick_interval must be a finite number, got nan"]),
    ("cfg-cooldown-inf", "[selfheal_policy]\ncooldown = inf\n", cfg.Error,
     ["[selfheal_policy] cooldown must be a finite number"]),
    ("cfg-workers-negative", "[selfheal]\nworkers = -1\n", VALUE_ERROR,
     ["workers"]),
    ("cfg-workers-superscript", "[selfheal]\nworkers = ²\n", VALUE_ERROR,
     ["workers", "'²'"]),
    ("cfg-spool-small", "[selfheal]\nspool_max_bytes = 10\n", VALUE_ERROR,
     ["spool_max_bytes"]),
    ("cfg-replica-long", "[selfheal]\nreplica_id = " + "r" * 65 + "\n",
     cfg.Error, ["replica_id is 65 characters long, over the limit of 64"]),
    ("cfg-port-big", "[selfheal_webhook]\nport = 70000\n", VALUE_ERROR,
     ["port", "65535"]),
    ("cfg-host-bad", "[selfheal_webhook]\nbind_host = not a host!\n",
     VALUE_ERROR, ["bind_host"]),
    ("cfg-skew-zero", "[selfheal_webhook]\nmax_skew = 0\n", VALUE_ERROR,
     ["max_skew"]),
    ("cfg-body-small", "[selfheal_webhook]\nmax_body = 10\n", VALUE_ERROR,
     ["max_body"]),
    ("cfg-flap-zero", "[selfheal_policy]\nflap_max_heals = 0\n",
     VALUE_ERROR, ["flap_max_heals"]),
    ("cfg-poll-word", "[mistral]\npoll_delay = often\n", VALUE_ERROR,
     ["poll_delay"]),
    ("cfg-timeout-zero", "[mistral]\ntimeout = 0\n", VALUE_ERROR,
     ["timeout"]),
    ("cfg-snapshot-low", "[engine]\nsnapshot_interval = 1\n", VALUE_ERROR,
     ["snapshot_interval"]),
    ("cfg-nul", "[selfheal]\ntick_interval = 1\x00\n", VALUE_ERROR,
     ["tick_interval"]),
    ("cfg-no-section", "tick_interval = 1\n", cfg.ConfigFileParseError,
     ["Section must be started before assignment"]),
    ("cfg-bad-section", "[selfheal\ntick_interval = 1\n",
     cfg.ConfigFileParseError, ["Invalid section"]),
    ("cfg-binary", b"\xff\xfe[selfheal]\n", cfg.ConfigFileParseError,
     ["not UTF-8 text"]),
]

# Values oslo.config cannot see are wrong; the check that reads them names
# the option just the same.
DERIVED = [
    ("cfg-max-unhealthy-word", "[selfheal_policy]\nmax_unhealthy = lots\n",
     "policy", cfg.Error, ["[selfheal_policy] max_unhealthy 'lots'"]),
    ("cfg-max-in-flight-zero", "[selfheal_policy]\nmax_in_flight = 0\n",
     "policy", cfg.Error, ["max_in_flight '0'"]),
    ("cfg-max-unhealthy-pct", "[selfheal_policy]\nmax_unhealthy = 150%\n",
     "policy", cfg.Error, ["max_unhealthy '150%'"]),
    ("cfg-execution-timeout-short",
     "[selfheal_policy]\nexecution_timeout = 1\n", "policy", cfg.Error,
     ["execution_timeout 1s is shorter"]),
    ("cfg-regex", "[selfheal_ingest]\nheal_alarm_pattern = (\n", "patterns",
     ValueError, ["heal_alarm_pattern '(' is not a valid regular"]),
    ("cfg-no-secret", "[selfheal_webhook]\nsecret =\n", "webhook",
     ValueError, ["[selfheal_webhook] secret is not set"]),
]


def write_conf(tmp_path, text) -> str:
    path = tmp_path / "selfheal.conf"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, error, words", [
    pytest.param(*case[1:], id=case[0]) for case in CONFIGS])
def test_bad_config_file(tmp_path, text, error, words) -> None:
    path = write_conf(tmp_path, text)
    with pytest.raises(error) as raised:
        load_config([path])
    for word in words:
        assert word in str(raised.value)
    # The next, good file loads in the same process.
    assert load_config([write_conf(tmp_path, "[selfheal]\nworkers = 2\n")]
                       ).selfheal.workers == 2


@pytest.mark.parametrize("text, check, error, words", [
    pytest.param(*case[1:], id=case[0]) for case in DERIVED])
def test_bad_derived_option(tmp_path, text, check, error, words) -> None:
    from vitrage_selfheal import opts
    from vitrage_selfheal.ingest.parse import patterns

    conf = load_config([write_conf(tmp_path, text)])
    run = {"policy": lambda: opts.policy_from(conf),
           "patterns": lambda: patterns(conf),
           "webhook": lambda: WebhookApp(RecordingSink(), conf)}[check]
    with pytest.raises(error) as raised:
        run()
    for word in words:
        assert word in str(raised.value)


def test_missing_config_file_is_named(tmp_path) -> None:
    with pytest.raises(cfg.ConfigFilesNotFoundError) as raised:
        load_config([str(tmp_path / "nope.conf")])
    assert "nope.conf" in str(raised.value)
