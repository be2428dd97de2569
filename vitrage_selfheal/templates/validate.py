"""Check Vitrage template files with Vitrage's own validator, offline.

`validate_paths` reads each file the way Vitrage does
(``yaml.load(..., Loader=yaml.BaseLoader)``: every scalar a string, so
``version: 3`` stays ``'3'``) and hands the document to Vitrage 15.0.1's
``vitrage.evaluator.template_validation``:

- ``metadata.type: definition`` -> ``validate_definition_template(t)``;
- ``metadata.type: equivalence`` -> nothing: Vitrage itself does not
  validate equivalence templates (its template repository answers "No
  Validation"), so neither do we;
- anything else, including no type (version 1 templates, Vitrage's own
  samples) -> ``validate_template(t, def_templates, params)``, as
  ``vitrage template validate --type standard`` does.  Definition
  templates among the files given are passed as ``def_templates``, as the
  template database would, so a standard template that ``includes`` one
  validates.

On top of Vitrage's validator one check of ``vitrage template add`` is
repeated: two files with the same ``metadata.name`` cannot both be added.

Set-up: none.  In Vitrage 15.0.1 the validation, loading and condition
code (``evaluator/template_validation``, ``template_loading``,
``template_functions``, ``condition.py``, ``base.py``) reads no
oslo.config option, so Vitrage's global CONF is neither parsed nor
touched.  Vitrage logs each failure at ERROR through oslo.log, which,
with logging unconfigured, Python prints to stderr; the result carries the
same text, so Vitrage's loggers are quietened while it runs (not
thread-safe: the level of the "vitrage" logger is process-wide).

Vitrage is an optional dependency of this package: it is imported only
when a template is validated.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Optional, TextIO

import yaml

from vitrage_selfheal import logs

STANDARD = "standard"
DEFINITION = "definition"
EQUIVALENCE = "equivalence"

# Vitrage's own code and words for a file that is not YAML
# (vitrage.evaluator.template_validation.status_messages, code 5).
INVALID_YAML_CODE = 5
INVALID_YAML_MESSAGE = "Invalid yaml format"
UNSUPPORTED_VERSION_CODE = 63

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class VitrageMissing(RuntimeError):
    """Vitrage (the optional dependency) cannot be imported."""


@dataclasses.dataclass(frozen=True)
class Result:
    """The verdict on one file.

    code is Vitrage's status code (0 when valid; non-zero on a valid
    template is a Vitrage warning, e.g. 138 in a version 2 template), or
    None when the verdict does not come from Vitrage's validator (file
    unreadable, duplicate template name, Vitrage's validator crashed).
    where is the detail Vitrage appends to its message (entity, condition,
    schema path), or the YAML parser's position.
    """

    path: str
    valid: bool
    code: Optional[int]
    message: str
    where: str = ""
    template_type: Optional[str] = None
    note: str = ""

    @property
    def detail(self) -> str:
        text = self.message
        if self.code is not None:
            text = f"code {self.code}: {text}"
        if self.where:
            text = f"{text} ({self.where})"
        return text

    def line(self) -> str:
        if not self.valid:
            return f"INVALID {self.path}: {self.detail}"
        if self.code:
            return f"OK {self.path} (warning: {self.detail})"
        if self.note:
            return f"OK {self.path} ({self.note})"
        return f"OK {self.path}"


@dataclasses.dataclass
class _Loaded:
    path: str
    template: Any = None
    failure: Optional[Result] = None

    @property
    def template_type(self) -> Optional[str]:
        kind = self._metadata("type")
        return kind if isinstance(kind, str) else None

    @property
    def name(self) -> Optional[str]:
        name = self._metadata("name")
        return name if isinstance(name, str) else None

    @property
    def version(self) -> Any:
        return self._metadata("version")

    def _metadata(self, key: str) -> Any:
        metadata = (self.template.get("metadata")
                    if isinstance(self.template, dict) else None)
        return metadata.get(key) if isinstance(metadata, dict) else None


def validate_paths(paths: Iterable[str | os.PathLike[str]],
                   params: Optional[Mapping[str, str]] = None,
                   ) -> list[Result]:
    """One Result per template file under `paths`.

    A directory stands for its ``*.yaml`` files (not recursive, like
    Vitrage's templates_dir), sorted by name; a file is taken whatever its
    suffix.  A path that does not exist, or a directory without templates,
    gives an invalid Result of its own.  `params` are the actual values
    for a template's ``parameters`` (``vitrage template validate
    --params``).  Raises VitrageMissing when Vitrage is not installed.
    """
    vitrage = _import_vitrage()
    loaded: list[_Loaded] = []
    for path, problem in _expand(paths):
        if problem is not None:
            loaded.append(_Loaded(path, failure=problem))
        else:
            loaded.append(_load(path))

    results: dict[int, Result] = {}
    def_templates: dict[str, Any] = {}
    with _quiet_vitrage_logs():
        # Definition templates first: standard ones may include them.
        for index, item in enumerate(loaded):
            if item.failure is None and item.template_type == DEFINITION:
                result = _run(vitrage, item, {}, params)
                results[index] = result
                if result.valid:
                    def_templates[f"file:{item.path}"] = vitrage.Template(
                        f"file:{item.path}", item.template, None)
        for index, item in enumerate(loaded):
            if index in results:
                continue
            if item.failure is not None:
                results[index] = item.failure
            else:
                results[index] = _run(vitrage, item, def_templates, params)

    ordered = [results[i] for i in range(len(loaded))]
    return _reject_duplicate_names(loaded, ordered)


def main(argv: Optional[Sequence[str]] = None,
         out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """``vitrage-selfheal validate PATH...``: one line per file.

    argv holds the arguments after ``validate`` (no program name); None
    means ``sys.argv[1:]``.  Prints ``OK path`` or
    ``INVALID path: code N: message (where)`` to `out`, usage errors to
    `err`.  Returns 0 when every file is valid, 1 when one is not, 2 on a
    usage error or when Vitrage is not installed.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="vitrage-selfheal validate",
        description="Validate Vitrage template files with Vitrage's own "
                    "validator (offline).")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="template file, or directory of *.yaml files")
    parser.add_argument("--params", nargs="+", default=[], metavar="K=V",
                        help="actual values for template parameters, as "
                             "'vitrage template validate --params'")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(list(argv if argv is not None
                                          else sys.argv[1:]))
    except SystemExit as exc:
        # argparse has printed its message; a caller gets a code, not an
        # exit of its process.
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE

    params: dict[str, str] = {}
    for pair in args.params:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(f"vitrage-selfheal validate: --params expects K=V, "
                  f"got {pair!r}", file=err)
            return EXIT_USAGE
        params[key] = value

    try:
        results = validate_paths(args.paths, params or None)
    except VitrageMissing as exc:
        print(f"vitrage-selfheal validate: {exc}", file=err)
        return EXIT_USAGE
    for result in results:
        print(result.line(), file=out)
    return EXIT_OK if all(r.valid for r in results) else EXIT_INVALID


# -- internals --

class _Vitrage:
    """The few Vitrage names used, imported once per call."""

    def __init__(self) -> None:
        from vitrage.evaluator.base import Template
        from vitrage.evaluator.template_schema_factory import (
            TemplateSchemaFactory,
        )
        from vitrage.evaluator.template_validation import (
            validate_definition_template,
            validate_template,
        )
        from vitrage.evaluator.template_validation.status_messages import (
            status_msgs,
        )

        self.Template = Template
        self.validate_template = validate_template
        self.validate_definition_template = validate_definition_template
        self.status_msgs = status_msgs
        self._schemas = TemplateSchemaFactory

    def supported_versions(self) -> list[str]:
        return sorted(self._schemas.supported_versions())


def _import_vitrage() -> _Vitrage:
    try:
        return _Vitrage()
    except ImportError as exc:
        raise VitrageMissing(
            f"Vitrage is needed to validate templates and cannot be "
            f"imported ({exc}); install vitrage==15.0.1") from exc


def _expand(paths: Iterable[str | os.PathLike[str]],
            ) -> Iterator[tuple[str, Optional[Result]]]:
    seen: set[str] = set()
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(".yaml")
                           and os.path.isfile(os.path.join(path, n)))
            if not names:
                yield path, Result(path, False, None,
                                   "no *.yaml template files in directory")
            for name in names:
                full = os.path.join(path, name)
                if full not in seen:
                    seen.add(full)
                    yield full, None
        elif os.path.exists(path):
            if path not in seen:
                seen.add(path)
                yield path, None
        else:
            yield path, Result(path, False, None, "no such file or directory")


def _load(path: str) -> _Loaded:
    try:
        with open(path, encoding="utf-8") as stream:
            template = yaml.load(stream, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        return _Loaded(path, failure=Result(
            path, False, INVALID_YAML_CODE, INVALID_YAML_MESSAGE,
            _yaml_where(exc)))
    except UnicodeDecodeError as exc:
        return _Loaded(path, failure=Result(
            path, False, INVALID_YAML_CODE, INVALID_YAML_MESSAGE,
            f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
    except RecursionError:
        # PyYAML builds nested nodes recursively: past Python's stack, the
        # file is refused like any other unreadable YAML.
        return _Loaded(path, failure=Result(
            path, False, INVALID_YAML_CODE, INVALID_YAML_MESSAGE,
            "nested too deeply to read"))
    except OSError as exc:
        return _Loaded(path, failure=Result(
            path, False, None, f"cannot read: {exc.strerror or exc}"))
    if template is None:
        return _Loaded(path, failure=Result(
            path, False, INVALID_YAML_CODE, INVALID_YAML_MESSAGE,
            "empty document"))
    if not isinstance(template, dict):
        return _Loaded(path, failure=Result(
            path, False, INVALID_YAML_CODE, INVALID_YAML_MESSAGE,
            f"the top level is a {_yaml_kind(template)}, not a mapping"))
    return _Loaded(path, template)


def _yaml_where(exc: yaml.YAMLError) -> str:
    # The parser's own words and position, without its multi-line snippet.
    problem = (getattr(exc, "problem", None)
               or (str(exc).splitlines() or [type(exc).__name__])[0])
    context = getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None)
    text = f"{context}: {problem}" if context else str(problem)
    if mark is not None:
        text += f", line {mark.line + 1}, column {mark.column + 1}"
    return text


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    return "scalar"


def _run(vitrage: _Vitrage, item: _Loaded, def_templates: dict[str, Any],
         params: Optional[Mapping[str, str]]) -> Result:
    kind = item.template_type
    if kind == EQUIVALENCE:
        return Result(item.path, True, 0, "not validated", "", kind,
                      note="equivalence template: Vitrage does not "
                           "validate these")
    try:
        if kind == DEFINITION:
            answer = vitrage.validate_definition_template(item.template)
        else:
            answer = vitrage.validate_template(
                item.template, def_templates,
                dict(params) if params else None)
    except Exception as exc:
        # A structure the validator does not expect (e.g. 'metadata' a
        # string) makes it raise; Vitrage's API would answer 500.
        return Result(item.path, False, None,
                      f"Vitrage's validator failed: "
                      f"{type(exc).__name__}: {exc}", "", kind)
    return _from_vitrage(vitrage, item.path, answer, kind, item.version)


def _from_vitrage(vitrage: _Vitrage, path: str, answer: Any,
                  kind: Optional[str], version: Any = None) -> Result:
    code = answer.status_code
    code = int(code) if isinstance(code, int) or str(code).isdigit() else None
    comment = str(answer.comment or "")
    message, where = _split_comment(vitrage.status_msgs.get(code, ""),
                                    comment)
    if where.startswith(f"{code} "):
        # voluptuous repeats the code before its path: "80 @ data[...]".
        where = where[len(str(code)) + 1:]
        if where.startswith("@ "):
            where = "at " + where[2:]
    if code == UNSUPPORTED_VERSION_CODE and not where:
        # Vitrage formats this message at import time, before any schema
        # is registered, so it lists no version ("dict_keys([])").
        where = (f"version {version!r}; this Vitrage supports "
                 f"{', '.join(vitrage.supported_versions())}")
    return Result(path, bool(answer.is_valid_config), code, message, where,
                  kind)


def _split_comment(base: str, comment: str) -> tuple[str, str]:
    """Vitrage's comment is its status message, then details appended
    after ' - ' (v3) or ' ' (v1/v2); split the two."""
    head = base.strip()
    if head and comment.startswith(head):
        rest = comment[len(head):].strip()
        if rest.startswith("- "):
            rest = rest[2:]
        # Vitrage pastes condition text in as written: runs of blanks.
        return head.rstrip(":").rstrip(), " ".join(rest.split())
    return comment.strip(), ""


def _reject_duplicate_names(loaded: list[_Loaded],
                            results: list[Result]) -> list[Result]:
    # `vitrage template add` refuses a template whose name is already
    # taken ("Duplicate template name"): the later file would not load.
    first: dict[str, str] = {}
    checked = []
    for item, result in zip(loaded, results, strict=True):
        name = item.name
        if (result.valid and name is not None
                and result.template_type != EQUIVALENCE):
            if name in first:
                result = dataclasses.replace(
                    result, valid=False, code=None,
                    message=f"Duplicate template name {name!r}: "
                            f"'vitrage template add' refuses it",
                    where=f"also in {first[name]}", note="")
            else:
                first[name] = item.path
        checked.append(result)
    return checked


def _quiet_vitrage_logs() -> contextlib.AbstractContextManager[None]:
    # Vitrage reports each failure at ERROR; a crash inside it still shows.
    return logs.quiet("vitrage")


if __name__ == "__main__":
    sys.exit(main())
