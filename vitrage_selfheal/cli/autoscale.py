"""scale-link, autoscale: let Aodh alarms ask for a group's scaling."""

from __future__ import annotations

import argparse
import json
import sys

from oslo_config import cfg


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale-link", help="print the URL that asks a group "
                                          "to scale (an alarm's action)")
    _group_args(p)
    p.add_argument("--by", type=int, required=True,
                   help="members to add (negative: to remove)")
    p.set_defaults(func=scale_link)

    p = sub.add_parser("autoscale", help="create (or update) the two Aodh "
                                         "alarms that scale a group on its "
                                         "load in Gnocchi")
    _group_args(p)
    p.add_argument("--metric", required=True,
                   help="the metric of the group's servers, e.g. cpu_util")
    p.add_argument("--above", type=float, required=True,
                   help="scale out while the aggregate is above this")
    p.add_argument("--below", type=float, required=True,
                   help="scale in while the aggregate is below this")
    p.add_argument("--by", type=int, default=1,
                   help="members per step (default 1)")
    p.add_argument("--resource-type", default="instance")
    p.add_argument("--query", help="Gnocchi search as JSON (default: "
                                   "{\"=\": {\"server_group\": STACK}})")
    p.add_argument("--aggregation", default="mean")
    p.add_argument("--granularity", type=int, default=60,
                   help="seconds; one of the metric's archive policy")
    p.add_argument("--evaluation-periods", type=int, default=1)
    p.set_defaults(func=autoscale)


def _group_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="root stack id")
    p.add_argument("--group", required=True,
                   help="the group's resource name in the root stack, or "
                        "its nested stack id")


def _link(conf: cfg.ConfigOpts, stack: str, group: str, by: int):
    from vitrage_selfheal.cli.operator import _group
    from vitrage_selfheal.ingest import scale_links
    from vitrage_selfheal.ingest.opts import WEBHOOK_GROUP, public_url

    if by == 0:
        raise cfg.Error("--by must not be 0")
    secret = conf[WEBHOOK_GROUP].secret
    if not secret:
        raise cfg.Error(f"[{WEBHOOK_GROUP}] secret is not set: scale links "
                        f"are signed with it")
    link = scale_links.ScaleLink(_group(conf, stack, group), by)
    return link, scale_links.url(public_url(conf), secret, link)


def scale_link(conf, args) -> int:
    _, url = _link(conf, args.stack, args.group, args.by)
    print(url)
    return 0


def autoscale(conf, args) -> int:
    from vitrage_selfheal import clients
    from vitrage_selfheal.ingest import aodh_alarms

    if args.by <= 0:
        print("vitrage-selfheal: --by is the size of a step, > 0",
              file=sys.stderr)
        return 2
    if args.below >= args.above:
        print("vitrage-selfheal: --below must be less than --above "
              "(else the alarms fight)", file=sys.stderr)
        return 2
    try:
        query = json.loads(args.query) if args.query else \
            aodh_alarms.default_query(args.stack)
    except ValueError as exc:
        print(f"vitrage-selfheal: --query is not JSON: {exc}",
              file=sys.stderr)
        return 2
    rule = aodh_alarms.LoadRule(
        metric=args.metric, query=query, resource_type=args.resource_type,
        aggregation_method=args.aggregation, granularity=args.granularity,
        evaluation_periods=args.evaluation_periods)
    conn = clients.connection(conf)
    endpoint = conn.session.get_endpoint(service_type="alarming",
                                         interface="public")
    steps = (("out", args.by, "gt", args.above),
             ("in", -args.by, "lt", args.below))
    for direction, by, operator, threshold in steps:
        link, url = _link(conf, args.stack, args.group, by)
        name = aodh_alarms.alarm_name(direction, args.group, args.stack)
        body = aodh_alarms.alarm_body(
            name, url, rule, operator, threshold,
            f"{args.aggregation} {args.metric} {operator} {threshold:g}: "
            f"{link.describe()}")
        try:
            alarm_id = aodh_alarms.put_alarm(conn.session, endpoint, body)
        except aodh_alarms.AodhError as exc:
            print(f"vitrage-selfheal: {exc}", file=sys.stderr)
            return 1
        print(f"{alarm_id} {name}: {args.aggregation} {args.metric} "
              f"{operator} {threshold:g} -> {link.describe()}")
    return 0
