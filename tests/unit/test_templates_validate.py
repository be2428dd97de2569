"""Our templates, and the offline validator, against Vitrage 15's own."""

from __future__ import annotations

import io
import pathlib
import textwrap

import pytest
import yaml

from vitrage_selfheal.templates import validate

pytest.importorskip("vitrage")

pytestmark = pytest.mark.engine

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "templates"
SAMPLES = REPO_ROOT / "tests" / "resources" / "vitrage_samples"

OUR_TEMPLATES = ("host_down.yaml", "network_root_cause.yaml",
                 "scaling.yaml", "unit_application_unhealthy.yaml",
                 "unit_server_lost.yaml")
SAMPLE_FILES = ("database_cluster_capacity_autoscaling.yaml",
                "host_down_scenarios.yaml",
                "host_high_cpu_load_scenarios.yaml")


def vitrage_direct(path: pathlib.Path):
    """Vitrage's validator called the way its API does, on the file."""
    from vitrage.evaluator.template_validation import validate_template

    with open(path) as stream:
        template = yaml.load(stream, Loader=yaml.BaseLoader)
    return validate_template(template, {}, None)


def run_main(*args: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    rc = validate.main(list(args), out=out, err=out)
    return rc, out.getvalue().splitlines()


def write(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# -- the selfheal templates --

def test_every_selfheal_template_is_valid():
    results = validate.validate_paths([TEMPLATES])
    names = [pathlib.Path(r.path).name for r in results]
    assert set(OUR_TEMPLATES) <= set(names)
    assert names == sorted(names)
    bad = [r.line() for r in results if not r.valid or r.code]
    assert not bad


@pytest.mark.parametrize("name", OUR_TEMPLATES)
def test_selfheal_template_is_version_3_with_a_header(name):
    path = TEMPLATES / name
    assert path.read_text().startswith("# selfheal: ")
    direct = vitrage_direct(path)
    assert direct.is_valid_config and direct.status_code == 0
    with open(path) as stream:
        metadata = yaml.load(stream, Loader=yaml.BaseLoader)["metadata"]
    assert metadata["version"] == "3"
    assert metadata["type"] == "standard"


def test_selfheal_alarm_names_match_the_notifier_patterns():
    # The notifier maps deduced alarm names to intents by regex; every
    # alarm our templates raise must map to the intended one.
    from vitrage_selfheal.ingest.opts import OPTS
    from vitrage_selfheal.model import Intent

    defaults = {o.name: o.default for o in OPTS}
    from vitrage_selfheal.ingest.parse import _compile

    patterns = _compile(defaults["heal_alarm_pattern"],
                        defaults["suppress_alarm_pattern"],
                        defaults["scale_out_alarm_pattern"],
                        defaults["scale_in_alarm_pattern"], (), "heat.unit")
    raised = {}
    for name in OUR_TEMPLATES:
        with open(TEMPLATES / name) as stream:
            template = yaml.load(stream, Loader=yaml.BaseLoader)
        for scenario in template["scenarios"]:
            for action in scenario["actions"]:
                props = action.get("raise_alarm")
                if props:
                    raised[props["alarm_name"]] = name
                    # Always on the unit vertex: the notifier needs it.
                    target = template["entities"][props["target"]]
                    assert target["type"] == "heat.unit", (name, props)
    expected = {
        "selfheal.heal: server lost": Intent.HEAL,
        "selfheal.heal: application unhealthy": Intent.HEAL,
        "selfheal.heal: host down": Intent.HEAL,
        "selfheal.suppress: network root cause": Intent.SUPPRESS,
        "selfheal.scale_out: high load": Intent.SCALE_OUT,
        "selfheal.scale_in: low load": Intent.SCALE_IN,
    }
    assert set(raised) == set(expected)
    for alarm_name, intent in expected.items():
        assert patterns.intent_of(alarm_name) is intent, alarm_name


# -- agreement with Vitrage on Vitrage's own samples --

@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_vitrage_sample_gets_vitrage_verdict(name):
    path = SAMPLES / name
    direct = vitrage_direct(path)
    [ours] = validate.validate_paths([path])
    assert ours.valid == direct.is_valid_config
    assert ours.code == direct.status_code
    # Vitrage 15 accepts all three of its samples.
    assert ours.valid and ours.line() == f"OK {path}"


def test_samples_directory_lists_the_three_samples_only():
    results = validate.validate_paths([SAMPLES])
    assert [pathlib.Path(r.path).name for r in results] == list(SAMPLE_FILES)


# -- broken templates --

V3_HEAD = """\
metadata:
  version: 3
  name: broken
  type: standard
entities:
  unit:
    category: RESOURCE
    type: heat.unit
"""

BROKEN = {
    "unknown_entity": (10200, V3_HEAD + """\
scenarios:
  - condition: unit [contains] instance
    actions:
      - raise_alarm:
          target: unit
          alarm_name: 'selfheal.heal: x'
          severity: CRITICAL
"""),
    "malformed_get_attr": (138, V3_HEAD + """\
scenarios:
  - condition: unit
    actions:
      - execute_mistral:
          workflow: selfheal.heal_units
          input:
            stack_id: get_attr(unit, stack_id
"""),
    "unsupported_version": (63, V3_HEAD.replace("version: 3", "version: 9")
                            + """\
scenarios:
  - condition: unit
    actions:
      - mark_down:
          target: unit
"""),
    "only_not": (134, V3_HEAD + """\
  alarm:
    category: ALARM
scenarios:
  - condition: NOT alarm [on] unit
    actions:
      - mark_down:
          target: unit
"""),
    "extra_key": (4, V3_HEAD + """\
    colour: blue
scenarios:
  - condition: unit
    actions:
      - raise_alarm:
          target: unit
          alarm_name: x
          severity: CRITICAL
          colour: blue
"""),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_template_names_vitrage_code(tmp_path, case, capsys,
                                            caplog):
    code, text = BROKEN[case]
    path = write(tmp_path, f"{case}.yaml", text)

    direct = vitrage_direct(path)
    assert not direct.is_valid_config
    assert direct.status_code == code

    caplog.clear()
    rc, lines = run_main(str(path))
    assert not [r for r in caplog.records if r.name.startswith("vitrage")]
    assert rc == 1
    assert lines == [lines[0]]
    assert lines[0].startswith(f"INVALID {path}: code {code}: ")
    # Vitrage logs each failure at ERROR; the CLI shows it once, its way.
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "Traceback" not in captured.out


def test_yaml_syntax_error_is_invalid_without_traceback(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", """\
        metadata:
          version: 3
          name: [unclosed
        """)
    rc, lines = run_main(str(path))
    assert rc == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"INVALID {path}: code 5: Invalid yaml format")
    assert "line 4, column 1" in lines[0]
    assert "Traceback" not in "\n".join(lines)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("text, where", [
    ("", "empty document"),
    ("- a\n- b\n", "the top level is a list, not a mapping"),
    ("just text\n", "the top level is a scalar, not a mapping"),
])
def test_not_a_template_document(tmp_path, text, where):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    [result] = validate.validate_paths([path])
    assert not result.valid
    assert (result.code, result.where) == (5, where)


def test_validator_crash_is_an_invalid_result(tmp_path):
    path = write(tmp_path, "m.yaml", "metadata: a string\n")
    rc, lines = run_main(str(path))
    assert rc == 1
    assert lines == [f"INVALID {path}: Vitrage's validator failed: "
                     "AttributeError: 'str' object has no attribute 'get'"]


def test_unsupported_version_says_which_versions_exist(tmp_path):
    path = write(tmp_path, "v.yaml", BROKEN["unsupported_version"][1])
    [result] = validate.validate_paths([path])
    assert result.where == "version '9'; this Vitrage supports 1, 2, 3"


# -- main over several files --

def test_main_mixed_directory(tmp_path):
    good = write(tmp_path, "a_good.yaml", (TEMPLATES / "scaling.yaml")
                 .read_text())
    bad = write(tmp_path, "b_bad.yaml", BROKEN["unknown_entity"][1])
    write(tmp_path, "notes.txt", "not a template")
    rc, lines = run_main(str(tmp_path))
    assert rc == 1
    assert lines[0] == f"OK {good}"
    assert lines[1].startswith(f"INVALID {bad}: code 10200: Condition "
                               "contains an unknown entity id (")
    assert len(lines) == 2


def test_main_all_valid_returns_zero():
    rc, lines = run_main(str(TEMPLATES), str(SAMPLES))
    assert rc == 0
    assert all(line.startswith("OK ") for line in lines)
    assert len(lines) >= len(OUR_TEMPLATES) + len(SAMPLE_FILES)


def test_missing_path_and_empty_directory(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, lines = run_main(str(tmp_path / "nope.yaml"), str(empty))
    assert rc == 1
    assert lines == [
        f"INVALID {tmp_path / 'nope.yaml'}: no such file or directory",
        f"INVALID {empty}: no *.yaml template files in directory",
    ]


def test_usage_errors_return_2(capsys):
    rc, lines = run_main()
    assert rc == 2
    assert "the following arguments are required: PATH" in lines[-1]
    assert run_main("x.yaml", "--params", "novalue")[0] == 2
    assert capsys.readouterr() == ("", "")


def test_same_file_twice_is_reported_once():
    path = str(TEMPLATES / "scaling.yaml")
    rc, lines = run_main(path, path)
    assert (rc, lines) == (0, [f"OK {path}"])


def test_duplicate_template_name_is_invalid(tmp_path):
    text = (TEMPLATES / "scaling.yaml").read_text()
    first = write(tmp_path, "one.yaml", text)
    second = write(tmp_path, "two.yaml", text)
    rc, lines = run_main(str(tmp_path))
    assert rc == 1
    assert lines[0] == f"OK {first}"
    assert lines[1] == (
        f"INVALID {second}: Duplicate template name 'selfheal_scaling': "
        f"'vitrage template add' refuses it (also in {first})")


# -- template kinds Vitrage validates differently --

DEFINITION = """\
metadata:
  version: 2
  name: selfheal_defs
  type: definition
definitions:
  entities:
    - entity:
        category: RESOURCE
        type: nova.host
        template_id: host
    - entity:
        category: ALARM
        name: compute.host.down
        template_id: host_alarm
  relationships:
    - relationship:
        source: host_alarm
        target: host
        relationship_type: on
        template_id: host_alarm_on_host
"""

INCLUDING = """\
metadata:
  version: 2
  name: uses_defs
  type: standard
includes:
  - name: selfheal_defs
scenarios:
  - scenario:
      condition: host_alarm_on_host
      actions:
        - action:
            action_type: set_state
            properties:
              state: ERROR
            action_target:
              target: host
"""


def test_definition_template_is_included_by_standard_one(tmp_path):
    defs = write(tmp_path, "z_defs.yaml", DEFINITION)
    user = write(tmp_path, "a_user.yaml", INCLUDING)
    results = validate.validate_paths([tmp_path])
    assert [(r.path, r.valid, r.template_type) for r in results] == [
        (str(user), True, "standard"), (str(defs), True, "definition")]


def test_include_of_missing_definition_is_vitrage_142(tmp_path):
    user = write(tmp_path, "user.yaml", INCLUDING)
    [result] = validate.validate_paths([user])
    assert (result.valid, result.code) == (False, 142)


def test_definition_template_checked_by_vitrage(tmp_path):
    # A definition template may not hold scenarios (Vitrage code 143).
    path = write(tmp_path, "d.yaml",
                 DEFINITION + "scenarios:\n" + INCLUDING.split(
                     "scenarios:\n")[1])
    [result] = validate.validate_paths([path])
    assert (result.valid, result.code) == (False, 143)


def test_equivalence_template_is_not_validated_as_vitrage_does(tmp_path):
    path = write(tmp_path, "eq.yaml", """\
        metadata:
          version: 2
          name: eq
          type: equivalence
        equivalences:
          - equivalence:
              - entity: {category: ALARM, type: nagios, name: a}
              - entity: {category: ALARM, type: zabbix, name: b}
        """)
    rc, lines = run_main(str(path))
    assert (rc, lines) == (0, [
        f"OK {path} (equivalence template: Vitrage does not validate "
        "these)"])


def test_version_2_malformed_get_attr_passes_as_in_vitrage(tmp_path):
    # Vitrage's v2 checker logs code 138 as a warning and then returns its
    # final "OK": the file is valid for Vitrage, so it is for us (in v3 the
    # same text is an error, see BROKEN).
    text = (SAMPLES / "database_cluster_capacity_autoscaling.yaml").read_text()
    text = text.replace("get_attr(trove_cluster,id)",
                        "get_attr(trove_cluster,id")
    path = write(tmp_path, "w.yaml", text)
    direct = vitrage_direct(path)
    assert (direct.is_valid_config, direct.status_code) == (True, 0)
    assert run_main(str(path)) == (0, [f"OK {path}"])


def test_warning_result_line():
    # Vitrage's Result can be valid with a non-zero code (get_warning_result).
    result = validate.Result("t.yaml", True, 138, "Only open", "x")
    assert result.line() == "OK t.yaml (warning: code 138: Only open (x))"


def test_params_are_passed_to_vitrage(tmp_path):
    path = write(tmp_path, "p.yaml", """\
        metadata:
          version: 3
          name: with_param
          type: standard
        parameters:
          alarm_name:
            description: the Aodh alarm to react to
        entities:
          alarm:
            category: ALARM
            name: get_param(alarm_name)
          unit:
            type: heat.unit
        scenarios:
          - condition: alarm [on] unit
            actions:
              - raise_alarm:
                  target: unit
                  alarm_name: 'selfheal.heal: x'
                  severity: CRITICAL
        """)
    rc, lines = run_main(str(path))
    assert rc == 1
    assert lines == [f"INVALID {path}: code 163: Failed to resolve "
                     "parameter (alarm_name)"]
    assert run_main(str(path), "--params", "alarm_name=app-down") == (
        0, [f"OK {path}"])


def test_missing_vitrage_is_reported(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_vitrage(name, *args, **kwargs):
        if name == "vitrage" or name.startswith("vitrage."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vitrage)
    with pytest.raises(validate.VitrageMissing):
        validate.validate_paths([TEMPLATES])
    rc, lines = run_main(str(TEMPLATES))
    assert rc == 2
    assert "install vitrage==15.0.1" in lines[0]


def test_cli_validate_exit_codes(tmp_path):
    import subprocess
    import sys

    from vitrage_selfheal import paths

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "vitrage_selfheal.cli.main", "validate",
             *args], capture_output=True, text=True, timeout=120,
            cwd=paths.CHECKOUT)

    ok = cli("templates/")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "metadata: {version: 3, name: broken, type: standard}\n"
        "entities: {a: {category: ALARM, type: vitrage}}\n"
        "scenarios:\n  - condition: b\n    actions:\n"
        "      - raise_alarm: {target: a, alarm_name: x,"
        " severity: CRITICAL}\n")
    bad = cli(str(broken))
    assert bad.returncode != 0
    assert "code 10200" in bad.stdout
