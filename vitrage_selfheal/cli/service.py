"""serve, workflows, db, validate, demo: commands that run or set up things.
"""

from __future__ import annotations

import argparse
import logging
import sys

LOG = logging.getLogger(__name__)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="receive signed Vitrage webhooks "
                                     "(HTTP) and [selfheal_zaqar] queues, "
                                     "and heal")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=serve)

    p = sub.add_parser("engine", help="run the embedded Vitrage engine and "
                                      "heal from it (no Vitrage services "
                                      "needed)")
    p.set_defaults(func=engine)

    p = sub.add_parser("workflows", help="Mistral heal workflows")
    wsub = p.add_subparsers(dest="workflows_command", metavar="ACTION")
    wsub.required = True
    w = wsub.add_parser("install", help="create or update them in Mistral")
    w.add_argument("--scope", choices=("public", "private"),
                   default="public",
                   help="public (default): visible to the stack owners' "
                        "projects that trusted executions run in; private: "
                        "only this project's (no trusts)")
    w.set_defaults(func=workflows_install)
    w = wsub.add_parser("show", help="print the shipped YAML")
    w.add_argument("name", nargs="?", default="heal_units")
    w.set_defaults(func=workflows_show, needs_config=False)

    p = sub.add_parser("db", help="the ledger's schema")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    d = dsub.add_parser("upgrade", help="apply alembic migrations")
    d.set_defaults(func=db_upgrade)

    p = sub.add_parser("validate", help="validate Vitrage templates with "
                                        "Vitrage's own validator")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=validate, needs_config=False)

    p = sub.add_parser("demo", help="four acts on one cluster, healed "
                                    "and checked (the main job)")
    p.add_argument("--workdir", default="var/demo",
                   help="where the demo's ledger and engine files go")
    p.add_argument("--cloud", metavar="NAME",
                   help="heal a real cluster on this clouds.yaml cloud "
                        "(tools/devcloud's is 'devcloud'); without it the "
                        "demo runs on the simulator")
    p.add_argument("--clouds-yaml", default="var/devcloud/clouds.yaml")
    p.add_argument("--transport-url",
                   default="rabbit://guest:guest@127.0.0.1:25674/",
                   help="the bus Nova and Heat publish notifications on")
    p.set_defaults(func=demo, needs_config=False)

    p = sub.add_parser("simulate", help="run a scenario through the real "
                                        "Vitrage engine and the decisions")
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument("--templates", action="append", metavar="PATH",
                   help="template file or folder (repeatable; default: "
                        "the shipped templates)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--ledger", metavar="PATH",
                   help="keep the run's SQLite ledger at PATH (a new file) "
                        "for `history` and `status`")
    p.set_defaults(func=simulate, needs_config=False)


def serve(conf, args) -> int:
    from vitrage_selfheal.app import App
    from vitrage_selfheal.ingest import webhook, zaqar
    from vitrage_selfheal.metrics import endpoint

    app = App(conf).start()
    consumer = None
    try:
        # The App itself is the sink, not its spooling one: a message is
        # deleted from the queue only once the ledger has it.
        consumer = zaqar.from_conf(conf, app, clock=app.healer.clock,
                                   counters=app.counters)
        if consumer is not None:
            app.add_health_check(consumer.problem)
            consumer.start()
        exposed = endpoint.for_app(app)
        own = (endpoint.serve_metrics(exposed, conf)
               if conf.metrics.port else None)
        try:
            webhook.serve(app, conf, args.host, args.port,
                          metrics_endpoint=(
                              exposed if conf.metrics.on_webhook_port
                              else None))
        finally:
            if own is not None:
                own.shutdown()
    finally:
        # Before the ledger closes: the message in hand is finished.
        if consumer is not None:
            consumer.stop()
        app.stop()
    return 0


def engine(conf, args) -> int:
    import pathlib
    import threading

    from vitrage_selfheal.app import App
    from vitrage_selfheal.engine.config import settings_from
    from vitrage_selfheal.engine.embedded import EmbeddedEngine
    from vitrage_selfheal.engine.service import EngineService
    from vitrage_selfheal.events import bus
    from vitrage_selfheal.metrics import endpoint

    app = App(conf).start()
    own = (endpoint.serve_metrics(endpoint.for_app(app), conf)
           if conf.metrics.port else None)
    settings = settings_from(
        conf, pathlib.Path(conf.selfheal.state_path) / "engine")
    embedded = EmbeddedEngine(settings, sink=app.spooling(),
                              ingest_conf=conf)
    # Heals and holds reach the unit vertices' heal_state at once.
    bus.into_engine(app, embedded)
    service = EngineService(
        embedded,
        topics=conf.engine.notification_topics,
        exchanges=conf.engine.notification_exchanges,
        snapshot_interval=conf.engine.snapshot_interval)
    service.start()
    print(f"embedded Vitrage engine running ({len(settings.template_paths)} "
          f"template path(s), bus {settings.transport_url.split('@')[-1]});"
          f" Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    finally:
        service.stop()
        if own is not None:
            own.shutdown()
        app.stop()
    return 0


def workflows_install(conf, args) -> int:
    from vitrage_selfheal import clients
    from vitrage_selfheal.dispatch.mistral import install_workflows

    dispatcher = clients.mistral_dispatcher(conf)
    names = install_workflows(
        dispatcher.session, dispatcher.endpoint, scope=args.scope,
        progress=lambda name, n, total: print(
            f"[{n}/{total}] uploading {name}.yaml ...", flush=True))
    for name in names:
        print(f"installed {name} ({args.scope}) into {dispatcher.endpoint}")
    return 0


def workflows_show(conf, args) -> int:
    from vitrage_selfheal import workflows

    print(workflows.load(args.name), end="")
    return 0


def db_upgrade(conf, args) -> int:
    from vitrage_selfheal.app import open_ledger
    from vitrage_selfheal.ledger import migrate

    ledger = open_ledger(conf)
    print(f"ledger at revision {migrate.current(ledger.engine)}")
    return 0


def demo(conf, args) -> int:
    import logging
    import pathlib
    import sys

    from vitrage_selfheal import logs
    from vitrage_selfheal.democloud.run import CloudDemo, DemoError
    from vitrage_selfheal.paths import WorkdirNotOurs

    workdir = pathlib.Path(args.workdir).resolve()
    # Next to the workdir: the demo empties the workdir as it starts.
    log = workdir.with_name(f"{workdir.name}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"vitrage-selfheal demo: the full log (Vitrage's own warnings "
          f"too) goes to {log}", flush=True)
    try:
        with logs.into_file(log, level=logging.DEBUG if args.debug
                            else logging.INFO):
            if not args.cloud:
                from vitrage_selfheal import demo as demo_mod
                return demo_mod.run(workdir)
            return CloudDemo(workdir,
                             pathlib.Path(args.clouds_yaml).resolve(),
                             args.transport_url, args.cloud,
                             out=sys.stdout).run()
    except (DemoError, WorkdirNotOurs) as exc:
        print(f"vitrage-selfheal demo: {exc} (log: {log})", file=sys.stderr)
        return 1


def simulate(conf, args) -> int:
    """0: the run met its scenario's expect: section; 1: it did not (or
    the engine failed unexpectedly); 2: a bad scenario."""
    import json

    from vitrage_selfheal.cli import views
    from vitrage_selfheal.simulate.scenario import ScenarioError

    try:
        run = views.simulate(args.scenario, args.templates, args.ledger)
    except ScenarioError as exc:
        print(f"vitrage-selfheal: bad scenario: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = run.report.as_json()
        doc["expectations"] = run.summary()["expectations"]
        json.dump(doc, sys.stdout, indent=2, sort_keys=True)
        print()
        out = sys.stderr
    else:
        run.report.print(sys.stdout)
        out = sys.stdout
    for failure in run.failures:
        print(f"expectation failed: {failure}", file=out)
    if run.failures:
        print(f"expectations: {run.met} of {run.expected} met", file=out)
    else:
        print(f"expectations: {run.met} met", file=out)
    if run.ledger is not None:
        print(f"ledger kept: {run.ledger} (vitrage-selfheal --config-file F "
              f"history|status, F saying [selfheal] ledger_url = "
              f"sqlite:///{run.ledger})", file=out)
    return 1 if run.failures else 0


def validate(conf, args) -> int:
    from vitrage_selfheal.templates import validate as template_validate

    return template_validate.main(args.paths)
