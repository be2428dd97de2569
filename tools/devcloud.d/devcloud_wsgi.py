"""gunicorn entry points for the devcloud's WSGI services (tools/devcloud).

Each function is an app factory: ``gunicorn 'devcloud_wsgi:keystone()'``.

oslo.config parses ``sys.argv``; under gunicorn that is gunicorn's own
command line ("unrecognized arguments"), so every factory replaces argv
before importing the service's WSGI module.  The config directory comes
from ``DEVCLOUD_ETC`` (set by tools/devcloud); each service is told where
its files are through the environment variables its WSGI module reads.
"""

import os
import sys

ETC = os.environ.get("DEVCLOUD_ETC", "")
VENV_ETC = os.path.join(sys.prefix, "etc")


def _argv(prog, *config_files):
    sys.argv = [prog]
    for path in config_files:
        sys.argv += ["--config-file", path]


def keystone():
    _argv("keystone")
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = f"{ETC}/keystone/keystone.conf"
    from keystone.wsgi.api import application

    return application


def placement():
    _argv("placement-api")
    os.environ["OS_PLACEMENT_CONFIG_DIR"] = f"{ETC}/placement"
    from placement.wsgi.api import application

    return application


def glance():
    _argv("glance-api")
    os.environ["OS_GLANCE_CONFIG_DIR"] = f"{ETC}/glance"
    from glance.wsgi.api import application

    return application


def neutron():
    _argv("neutron-api")
    os.environ["OS_NEUTRON_CONFIG_DIR"] = f"{ETC}/neutron"
    os.environ["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;ml2_conf.ini"
    from neutron.wsgi.api import application

    return application


def nova_api():
    _argv("nova-api")
    # Nova parses every file in this list, paste file first (its default).
    os.environ["OS_NOVA_CONFIG_DIR"] = f"{ETC}/nova"
    os.environ["OS_NOVA_CONFIG_FILES"] = (
        f"{VENV_ETC}/nova/api-paste.ini;{ETC}/nova/nova.conf"
    )
    from nova.wsgi.osapi_compute import application

    return application


def heat_api():
    # Heat's init_application() calls CONF() with no args: it reads argv.
    _argv("heat-api", f"{ETC}/heat/heat.conf")
    from heat.wsgi.api import application

    return application


def gnocchi():
    # prepare_service() parses sys.argv.
    _argv("gnocchi-api", f"{ETC}/gnocchi/gnocchi.conf")
    from gnocchi.cli import api
    from gnocchi.rest import app

    return app.load_app(api.prepare_service())


def aodh():
    # The packaged aodh.wsgi.api reads only /etc/aodh.
    _argv("aodh-api")
    from aodh.api import app

    return app.build_wsgi_app(argv=["--config-file", f"{ETC}/aodh/aodh.conf"])
