"""`vitrage-selfheal`: the operator's command line. Thin: parse, call, print.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Optional

from oslo_config import cfg

from vitrage_selfheal.cli import autoscale, operator, service
from vitrage_selfheal.ledger.migrate import SchemaNotCurrent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vitrage-selfheal",
        description="Heal and scale Heat-built clusters from Vitrage root "
                    "causes.")
    p.add_argument("--config-file", action="append", default=[],
                   metavar="PATH", help="oslo.config file (repeatable)")
    p.add_argument("--debug", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    operator.add_parsers(sub)
    service.add_parsers(sub)
    autoscale.add_parsers(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "needs_config", True):
        from vitrage_selfheal.app import load_config
        try:
            conf = load_config(args.config_file)
        except (cfg.Error, ValueError) as exc:
            print(f"vitrage-selfheal: configuration error: {exc}",
                  file=sys.stderr)
            return 2
    else:
        conf = None
    try:
        return args.func(conf, args)
    except cfg.Error as exc:
        print(f"vitrage-selfheal: configuration error: {exc}",
              file=sys.stderr)
        return 2
    except SchemaNotCurrent as exc:
        print(f"vitrage-selfheal: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
