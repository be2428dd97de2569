"""Idempotent set-up of the devcloud's Keystone data and cloud resources.

    cloudsetup.py identity --service TYPE:NAME:URL ... --service-user NAME ...
    cloudsetup.py resources --flavor NAME --image NAME

Both use the `devcloud` (admin) cloud of $OS_CLIENT_CONFIG_FILE and only
create what is missing, so re-running on a set-up cloud is cheap.
Passwords: $DEVCLOUD_PASSWORD (service users, heat_domain_admin) and
$DEVCLOUD_DEMO_PASSWORD (user demo).
"""

import argparse
import io
import os
import sys
import time

import openstack

REGION = "RegionOne"


def log(msg):
    print(f"cloudsetup: {msg}", flush=True)


def ensure(finder, creator, name, **attrs):
    found = finder(name, ignore_missing=True, **{
        k: v for k, v in attrs.items() if k in ("domain_id",)})
    if found:
        return found
    log(f"creating {name}")
    return creator(name=name, **attrs)


def grant(conn, role, user, project=None, domain=None):
    idn = conn.identity
    if project is not None:
        if not idn.validate_user_has_project_role(project, user, role):
            idn.assign_project_role_to_user(project, user, role)
    else:
        if not idn.validate_user_has_domain_role(domain, user, role):
            idn.assign_domain_role_to_user(domain, user, role)


def identity(conn, args):
    idn = conn.identity
    password = os.environ["DEVCLOUD_PASSWORD"]
    demo_password = os.environ["DEVCLOUD_DEMO_PASSWORD"]
    default = idn.find_domain("Default") or idn.get_domain("default")

    roles = {name: ensure(idn.find_role, idn.create_role, name)
             for name in ("admin", "member", "reader", "service",
                          "heat_stack_user")}

    service_project = ensure(idn.find_project, idn.create_project, "service",
                             domain_id=default.id)
    demo_project = ensure(idn.find_project, idn.create_project, "demo",
                          domain_id=default.id)

    for name in args.service_user:
        user = ensure(idn.find_user, idn.create_user, name,
                      domain_id=default.id, password=password)
        for role in ("admin", "service"):
            grant(conn, roles[role], user, project=service_project)

    demo = ensure(idn.find_user, idn.create_user, "demo",
                  domain_id=default.id, password=demo_password)
    grant(conn, roles["member"], demo, project=demo_project)

    # Heat's stack domain: users Heat creates for stacks live here.
    heat_domain = ensure(idn.find_domain, idn.create_domain, "heat",
                         description="Owns users and projects created by heat")
    hda = ensure(idn.find_user, idn.create_user, "heat_domain_admin",
                 domain_id=heat_domain.id, password=password)
    grant(conn, roles["admin"], hda, domain=heat_domain)

    existing = {(e.service_id, e.interface): e for e in idn.endpoints()}
    services = {s.type: s for s in idn.services()}
    for spec in args.service:
        stype, name, url = spec.split(":", 2)
        svc = services.get(stype)
        if svc is None:
            log(f"creating service {name} ({stype})")
            svc = idn.create_service(name=name, type=stype)
        for interface in ("public", "internal"):
            ep = existing.get((svc.id, interface))
            if ep is None:
                idn.create_endpoint(service_id=svc.id, interface=interface,
                                    url=url, region_id=REGION)
            elif ep.url != url:
                idn.update_endpoint(ep, url=url)


def resources(conn, args):
    if conn.compute.find_flavor(args.flavor, ignore_missing=True) is None:
        log(f"creating flavor {args.flavor}")
        conn.compute.create_flavor(name=args.flavor, id=args.flavor,
                                   ram=64, vcpus=1, disk=1, is_public=True)
    image = conn.image.find_image(args.image, ignore_missing=True)
    if image is not None and image.status != "active":
        log(f"deleting image {args.image} in state {image.status}")
        conn.image.delete_image(image)
        image = None
    if image is None:
        log(f"uploading image {args.image}")
        image = conn.image.create_image(
            name=args.image, data=io.BytesIO(b"\0" * 1024),
            disk_format="raw", container_format="bare",
            visibility="public", allow_duplicates=False)
        deadline = time.monotonic() + 30
        while image.status != "active":
            if time.monotonic() > deadline:
                raise SystemExit(f"image {args.image} stuck in {image.status}")
            time.sleep(0.3)
            image = conn.image.get_image(image)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("identity")
    i.add_argument("--service", action="append", default=[],
                   help="TYPE:NAME:URL of a catalog entry")
    i.add_argument("--service-user", action="append", default=[])
    r = sub.add_parser("resources")
    r.add_argument("--flavor", required=True)
    r.add_argument("--image", required=True)
    args = p.parse_args()

    conn = openstack.connect(cloud="devcloud")
    t = time.monotonic()
    {"identity": identity, "resources": resources}[args.cmd](conn, args)
    log(f"{args.cmd} done in {time.monotonic() - t:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
