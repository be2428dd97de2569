"""`openstack selfheal history|status|hold|release|simulate|validate`.

Each command asks the same functions as `vitrage-selfheal` (cli.views,
operator) and hands cliff records, so `-f table|json|yaml|value|csv` and
`-c COLUMN` work as on every other OpenStackClient command. Times are
epoch seconds to a machine (json, yaml) and UTC text to a person.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from cliff import columns
from osc_lib import exceptions
from osc_lib.cli import format_columns
from osc_lib.command import command

from vitrage_selfheal import operator
from vitrage_selfheal.cli import views
from vitrage_selfheal.cli.output import when
from vitrage_selfheal.ledger.migrate import SchemaNotCurrent


class UtcTime(columns.FormattableColumn[Any]):
    def human_readable(self) -> str:
        return when(self._value)


@contextlib.contextmanager
def _ledger_errors() -> Iterator[None]:
    from oslo_config import cfg

    try:
        yield
    except SchemaNotCurrent as exc:
        raise exceptions.CommandError(str(exc)) from None
    except cfg.Error as exc:
        raise exceptions.CommandError(
            f"vitrage-selfheal configuration error: {exc}") from None


class _Local:
    """Reads vitrage-selfheal's own config and ledger: no Keystone."""

    auth_required = False

    @property
    def conf(self) -> Any:
        return self.app.client_manager.selfheal.conf


def _stack_option(parser: Any, what: str) -> None:
    parser.add_argument("--stack", metavar="<stack-id>",
                        help=f"root stack id (default: {what})")


class History(_Local, command.Lister):
    """The newest decisions with their named reasons, oldest first."""

    def get_parser(self, prog_name: str) -> Any:
        parser = super().get_parser(prog_name)
        _stack_option(parser, "all stacks")
        parser.add_argument("--unit", metavar="<unit>",
                            help="unit key, or part of it")
        parser.add_argument("--reason", metavar="<reason>",
                            help="e.g. COOLDOWN, STORM_GUARD")
        parser.add_argument("--limit", metavar="<n>", type=int, default=200)
        return parser

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        with _ledger_errors():
            rows = views.history(self.conf, parsed_args.stack,
                                 parsed_args.unit, parsed_args.reason,
                                 parsed_args.limit)
        return views.HISTORY_FIELDS, [
            tuple(UtcTime(r[f]) if f == "at" else r[f]
                  for f in views.HISTORY_FIELDS) for r in rows]


class Status(_Local, command.ShowOne):
    """Holds and breakers, open stack operations, scales, trusts, units
    in flight, held and cooling down; the ledger's counters."""

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        with _ledger_errors():
            report = views.status(self.conf)
        fields = [s.key for s in report.sections] + ["problems", "counters"]
        values = [format_columns.ListDictColumn(s.records())
                  for s in report.sections]
        values += [format_columns.DictColumn(report.problems()),
                   format_columns.DictColumn(report.counters)]
        return fields, values


class Hold(_Local, command.ShowOne):
    """Stop healing, everywhere or on one stack (the kill switch)."""

    def get_parser(self, prog_name: str) -> Any:
        parser = super().get_parser(prog_name)
        _stack_option(parser, "every stack")
        parser.add_argument("--reason", metavar="<text>",
                            default="held by operator")
        return parser

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        now = time.time()
        with _ledger_errors():
            scope = operator.hold(views.ledger_at_head(self.conf), now,
                                  parsed_args.reason, parsed_args.stack,
                                  "openstack")
        return ("scope", "reason", "since"), (scope, parsed_args.reason,
                                              UtcTime(now))


class Release(_Local, command.ShowOne):
    """Lift a hold or an open circuit breaker; held units are
    reconsidered on the next tick."""

    def get_parser(self, prog_name: str) -> Any:
        parser = super().get_parser(prog_name)
        _stack_option(parser, "the global hold")
        return parser

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        with _ledger_errors():
            lifted = operator.release(views.ledger_at_head(self.conf),
                                      time.time(), parsed_args.stack,
                                      "openstack")
        return ("scope", "lifted"), (parsed_args.stack or "global", lifted)


class _ExitCode:
    """cliff's display commands always exit 0; these say with their exit
    code whether what they checked held (1 when not)."""

    failed = False

    def run(self, parsed_args: Any) -> int:
        done = super().run(parsed_args)  # type: ignore[misc]
        return 1 if self.failed else done


class Simulate(_ExitCode, command.ShowOne):
    """Run a scenario through the real Vitrage engine and the decisions;
    exit 1 when its expect: section does not hold."""

    auth_required = False

    def get_parser(self, prog_name: str) -> Any:
        parser = super().get_parser(prog_name)
        parser.add_argument("scenario", metavar="<scenario.yaml>")
        parser.add_argument("--templates", metavar="<path>", action="append",
                            help="template file or folder (repeatable; "
                                 "default: the shipped templates)")
        parser.add_argument("--ledger", metavar="<path>",
                            help="keep the run's SQLite ledger at <path> "
                                 "(a new file) for history and status")
        return parser

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        from vitrage_selfheal.simulate.scenario import ScenarioError

        try:
            run = views.simulate(parsed_args.scenario, parsed_args.templates,
                                 parsed_args.ledger)
        except ScenarioError as exc:
            raise exceptions.CommandError(f"bad scenario: {exc}") from None
        self.failed = bool(run.failures)
        summary = run.summary()
        return (("scenario", "executions", "decisions", "deduced_alarms",
                 "engine_errors", "expectations_met", "expectations_failed",
                 "ledger"),
                (parsed_args.scenario,
                 format_columns.ListDictColumn(summary["executions"]),
                 format_columns.DictColumn(summary["decisions"]),
                 format_columns.ListColumn(
                     [f"{name} on {resource}"
                      for name, resource in summary["deduced_alarms"]]),
                 summary["engine_errors"], f"{run.met} of {run.expected}",
                 format_columns.ListColumn(run.failures),
                 str(run.ledger) if run.ledger else None))


class Validate(_ExitCode, command.Lister):
    """Validate Vitrage templates with Vitrage's own validator (offline);
    exit 1 when one is invalid."""

    auth_required = False

    def get_parser(self, prog_name: str) -> Any:
        parser = super().get_parser(prog_name)
        parser.add_argument("paths", metavar="<path>", nargs="+",
                            help="template file, or folder of *.yaml files")
        parser.add_argument("--param", metavar="<key=value>",
                            action="append", default=[],
                            help="actual value of a template parameter "
                                 "(repeatable)")
        return parser

    def take_action(self, parsed_args: Any) -> tuple[Any, Any]:
        from vitrage_selfheal.templates import validate

        params = {}
        for pair in parsed_args.param:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise exceptions.CommandError(
                    f"--param expects <key=value>, got {pair!r}")
            params[key] = value
        try:
            results = validate.validate_paths(parsed_args.paths,
                                              params or None)
        except validate.VitrageMissing as exc:
            raise exceptions.CommandError(str(exc)) from None
        self.failed = not all(r.valid for r in results)
        return (("path", "valid", "type", "code", "message", "where"),
                [(r.path, r.valid, r.template_type, r.code, r.message,
                  r.where) for r in results])
