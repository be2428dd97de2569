"""history, status, hold, release: read and steer the ledger."""

from __future__ import annotations

import argparse
import re
import sys
import time

from oslo_config import cfg

from vitrage_selfheal import operator
from vitrage_selfheal.cli import views
from vitrage_selfheal.cli.output import dump, table, when
from vitrage_selfheal.cli.views import ledger_at_head
from vitrage_selfheal.model import Action, GroupRef

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                   r"[0-9a-f]{12}", re.IGNORECASE)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="decisions with their reasons")
    p.add_argument("--stack", help="root stack id")
    p.add_argument("--unit", help="unit key or part of it")
    p.add_argument("--reason", help="e.g. COOLDOWN, STORM_GUARD")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=history)

    p = sub.add_parser("status", help="in flight, held, cooldowns, breakers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)

    p = sub.add_parser("hold", help="stop healing (kill switch)")
    p.add_argument("--stack", help="only this root stack")
    p.add_argument("--reason", default="held by operator")
    p.set_defaults(func=hold)

    p = sub.add_parser("release", help="lift a hold or an open breaker")
    p.add_argument("--stack", help="only this root stack")
    p.set_defaults(func=release)

    p = sub.add_parser("pause", help="a named pause request: heals wait "
                                     "until each is resumed")
    p.add_argument("--name", required=True,
                   help="e.g. the change ticket; resume lifts it by name")
    p.add_argument("--stack", help="only this root stack")
    p.add_argument("--reason", default="")
    p.add_argument("--who", default="", help="default: $USER")
    p.set_defaults(func=pause)

    p = sub.add_parser("resume", help="lift one named pause request")
    p.add_argument("--name", required=True)
    p.add_argument("--stack", help="the root stack it was put on")
    p.set_defaults(func=resume)

    p = sub.add_parser("shadow", help="decide and record, start nothing "
                                      "(per stack or all stacks)")
    p.add_argument("mode", choices=("on", "off"))
    p.add_argument("--stack", help="only this root stack")
    p.add_argument("--reason", default="")
    p.set_defaults(func=shadow)

    p = sub.add_parser("scale", help="grow or shrink a scaling group")
    p.add_argument("--stack", required=True, help="root stack id")
    p.add_argument("--group", required=True,
                   help="the group's nested stack id (the stack id in its "
                        "units' keys), or its resource name in the root "
                        "stack (then read from Heat)")
    p.add_argument("--by", type=int, required=True,
                   help="members to add (negative: to remove)")
    p.set_defaults(func=scale)

    p = sub.add_parser("trust", help="run a stack's heals and scales as "
                                     "its owner (Keystone trust)")
    tsub = p.add_subparsers(dest="trust_command", metavar="ACTION")
    tsub.required = True
    t = tsub.add_parser("create", help="delegate, as the stack's owner")
    t.add_argument("--stack", required=True, help="root stack id")
    t.add_argument("--os-cloud", dest="owner_cloud",
                   help="clouds.yaml entry of the owner (default: "
                        "OS_CLOUD / OS_* of this shell)")
    t.add_argument("--role", action="append", dest="roles",
                   help="role to delegate (repeatable; default: the "
                        "owner's roles on the project)")
    t.set_defaults(func=trust_create)
    t = tsub.add_parser("delete", help="forget the stack's trust")
    t.add_argument("--stack", required=True)
    t.set_defaults(func=trust_delete)


def history(conf, args) -> int:
    rows = views.history(conf, args.stack, args.unit, args.reason,
                         args.limit)
    if args.json:
        dump(rows)
        return 0
    table(("when (UTC)", "action", "reason", "unit", "detail"),
          [(when(r["at"]), r["action"], r["reason"], r["unit"] or r["stack"],
            r["detail"]) for r in rows])
    return 0


def status(conf, args) -> int:
    report = views.status(conf)
    if args.json:
        dump(report.as_json())
        return 0
    for section in report.sections:
        print(f"{section.title}: {len(section.rows)}")
        if section.rows:
            table(section.headers, section.rows)
        print()
    problems = report.problems()
    print("Counters: " + (", ".join(f"{k}={v}" for k, v in problems.items())
                          or "none"))
    return 0


def hold(conf, args) -> int:
    scope = operator.hold(ledger_at_head(conf), time.time(), args.reason,
                          args.stack, "cli")
    print(f"held {scope}: {args.reason}")
    return 0


def pause(conf, args) -> int:
    import getpass

    who = args.who or getpass.getuser()
    print(operator.pause(ledger_at_head(conf), time.time(), args.name,
                         args.reason, args.stack, who))
    return 0


def resume(conf, args) -> int:
    found, left = operator.resume(ledger_at_head(conf), time.time(),
                                  args.name, args.stack)
    where = f"stack {args.stack}" if args.stack else "all stacks"
    if not found:
        print(f"vitrage-selfheal: no pause {args.name!r} on {where}"
              + (f" (there: {', '.join(left)})" if left else ""),
              file=sys.stderr)
        return 1
    print(f"resumed {args.name!r} on {where}; "
          + (f"still paused by {', '.join(left)}" if left
             else "no pause left"))
    return 0


def shadow(conf, args) -> int:
    print(operator.shadow(ledger_at_head(conf), time.time(),
                          args.mode == "on", args.stack, args.reason, "cli"))
    return 0


def scale(conf, args) -> int:
    from vitrage_selfheal.opts import policy_from

    if args.by == 0:
        print("vitrage-selfheal: --by must not be 0", file=sys.stderr)
        return 2
    group = _group(conf, args.stack, args.group)
    decisions = operator.scale(ledger_at_head(conf), time.time(),
                               policy_from(conf), group, args.by, "cli")
    for decision in decisions:
        print(f"{decision.reason.value}: {decision.detail}")
    return 0 if all(d.action is not Action.REJECT for d in decisions) else 1


def _group(conf, root: str, group: str) -> GroupRef:
    if _UUID.fullmatch(group):
        return GroupRef(root_stack_id=root, group_stack_id=group)
    from vitrage_selfheal import clients

    # openstacksdk's orchestration proxy lists a stack's resources; it has
    # no call for one resource by name.
    found = [r for r in clients.connection(conf).orchestration.resources(
        root) if r.name == group]
    if not found:
        raise cfg.Error(f"stack {root} has no resource {group!r}")
    nested = found[0].physical_resource_id
    if not nested:
        raise cfg.Error(f"resource {group!r} of stack {root} has no "
                        f"nested stack: is it a scaling group?")
    return GroupRef(root_stack_id=root, group_stack_id=nested,
                    parent_stack_id=root, resource_name=group)


def trust_create(conf, args) -> int:
    import openstack

    from vitrage_selfheal import clients
    from vitrage_selfheal.dispatch.trusts import create_trust

    ledger = ledger_at_head(conf)
    owner = openstack.connect(cloud=args.owner_cloud)
    if owner.orchestration.find_stack(args.stack,
                                      ignore_missing=True) is None:
        print(f"vitrage-selfheal: stack {args.stack} is not visible to "
              f"user {owner.current_user_id}: run this as its owner",
              file=sys.stderr)
        return 2
    trustee = clients.connection(conf).current_user_id
    trust = create_trust(owner, trustee, args.roles)
    lifted = operator.trust_stored(ledger, time.time(), args.stack,
                                   trust.id, owner.current_user_id,
                                   owner.current_project_id, "cli")
    print(f"trust {trust.id}: user {owner.current_user_id} delegates to "
          f"{trustee} on project {owner.current_project_id}"
          + ("; the stack's TRUST_INVALID hold is lifted" if lifted else ""))
    return 0


def trust_delete(conf, args) -> int:
    dropped = operator.trust_dropped(ledger_at_head(conf), args.stack)
    print(f"stack {args.stack}: trust {dropped} forgotten (revoke it in "
          f"Keystone as its owner)" if dropped else
          f"stack {args.stack} had no trust")
    return 0


def release(conf, args) -> int:
    lifted = operator.release(ledger_at_head(conf), time.time(), args.stack,
                              "cli")
    print(f"released {args.stack or 'global'}: {lifted} hold(s) lifted; "
          f"held units are reconsidered on the next tick")
    return 0
