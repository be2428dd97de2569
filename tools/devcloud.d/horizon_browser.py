"""Horizon's Vitrage panels in headless Chromium: screenshots, and what the
pages show as JSON on stdout.

    var/devcloud/horizon-venv/bin/python tools/devcloud.d/horizon_browser.py \\
        --out var/test-artefacts [--unit NAME] [--alarm NAME]

Needs tools/devcloud-horizon (selenium is in its venv), Debian's chromium
and chromium-driver.  Logs in (admin / devcloud, project admin), then

- /project/vitragedashboard/  the topology (sunburst): its arcs;
- /project/vitragealarms/     the active alarms table: its rows;
- /project/vitrageentities/   the entity graph: its vertices and edges as
                              the page's d3 graph holds them; with --unit,
                              that vertex clicked, its info panel's text;
- the RCA view of the --alarm alarm (its RCA button on the alarms page).

Each page is saved as <out>/horizon-<page>.png.  Nothing is checked here
(tests/cloud/test_horizon.py asserts on the JSON); an element that never
came is reported under "errors".
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WIDTH, HEIGHT = 1600, 1000

# What the d3 graphs hold (each element's __data__), read in the page.
ENTITY_NODES_JS = """
return Array.from(document.querySelectorAll('svg g.node')).map(function (g) {
    var d = g.__data__ || {};
    return {name: d.name, vitrage_type: d.vitrage_type,
            vitrage_category: d.vitrage_category, vitrage_id: d.vitrage_id,
            id: d.id, state: d.state, heal_state: d.heal_state,
            vitrage_operational_state: d.vitrage_operational_state,
            vitrage_resource_id: d.vitrage_resource_id,
            severity: d.severity, icon_class:
                (g.querySelector('.icon') || {getAttribute: function () {
                    return null; }}).getAttribute('class')};
});
"""
ENTITY_LINKS_JS = """
var links = document.querySelectorAll('svg line.link');
return Array.from(links).map(function (l) {
    var d = l.__data__ || {};
    return [d.source && d.source.vitrage_id, d.target && d.target.vitrage_id,
            d.relationship_type];
});
"""
SUNBURST_JS = """
return Array.from(document.querySelectorAll('svg path')).map(function (p) {
    return p.__data__;
}).filter(function (d) { return d && d.name; }).map(function (d) {
    return {name: d.name, id: d.id, vitrage_type: d.vitrage_type,
            depth: d.depth, state: d.vitrage_operational_state};
});
"""
# Horizon's toasts (e.g. "Unable to fetch the Vitrage Topology service.").
TOASTS_JS = """
return Array.from(document.querySelectorAll('.alert-danger, .toast-error'))
    .map(function (e) { return e.innerText.trim(); })
    .filter(function (t) { return t; });
"""


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    # The pages' JavaScript errors, reported per page.
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=options)
    driver.set_page_load_timeout(60)
    # --window-size is the outer size: make the page itself WIDTHxHEIGHT.
    inner = driver.execute_script(
        "return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * WIDTH - inner[0], 2 * HEIGHT - inner[1])
    return driver


class Pages:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url = args.url.rstrip("/")
        self.out = pathlib.Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.driver = browser()
        self.report: dict = {"pages": {}, "errors": []}

    def wait(self, what: str, predicate, timeout: float = 30) -> bool:
        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(
                lambda d: predicate())
            return True
        except TimeoutException:
            self.report["errors"].append(f"{self.page}: no {what} after "
                                         f"{timeout:.0f}s")
            return False

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def open(self, page: str, path: str) -> dict:
        self.page = page
        t = time.monotonic()
        self.driver.get(self.url + path)
        # Angular's panels fill in after the document is loaded.
        self.wait("rendered page", lambda: self.js(
            "return document.readyState") == "complete")
        entry = {"url": self.driver.current_url,
                 "title": self.driver.title, "load_s": 0.0}
        self.report["pages"][page] = entry
        self._t = t
        return entry

    def shot(self, entry: dict) -> None:
        # The header's alarm counts come by a request of their own.
        self.wait("alarm banner", lambda: self.js(
            "var b = document.querySelector('.vitrage-alarm-banner');"
            "return b && b.innerText.trim();"))
        entry["banner"] = self.js(
            "var b = document.querySelector('.vitrage-alarm-banner');"
            "return b ? b.innerText.trim() : '';")
        entry["toasts"] = self.js(TOASTS_JS)
        entry["js_errors"] = [e["message"] for e in
                              self.driver.get_log("browser")
                              if e["level"] == "SEVERE"]
        entry["text"] = self.driver.find_element(By.TAG_NAME, "body").text
        path = self.out / f"horizon-{self.page}.png"
        self.driver.save_screenshot(str(path))
        entry["screenshot"] = str(path)
        entry["load_s"] = round(time.monotonic() - self._t, 1)

    # -- the pages -------------------------------------------------------
    def login(self) -> None:
        entry = self.open("login", "/auth/login/")
        d = self.driver
        d.find_element(By.ID, "id_username").send_keys(self.args.user)
        d.find_element(By.ID, "id_password").send_keys(self.args.password)
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait("page after the login", lambda: "/auth/login" not in
                  d.current_url, timeout=60)
        entry["after"] = d.current_url
        entry["load_s"] = round(time.monotonic() - self._t, 1)
        entry["js_errors"] = [e["message"] for e in d.get_log("browser")
                              if e["level"] == "SEVERE"]

    def topology(self) -> None:
        entry = self.open("topology", "/project/vitragedashboard/")
        self.wait("sunburst arcs", lambda: self.js(SUNBURST_JS))
        # The arcs grow in with a transition.
        time.sleep(1.5)
        entry["arcs"] = self.js(SUNBURST_JS)
        self.shot(entry)

    def alarms(self) -> None:
        entry = self.open("alarms", "/project/vitragealarms/")
        rows_js = """
            return Array.from(document.querySelectorAll('table tbody tr'))
                .map(function (r) {
                    return Array.from(r.querySelectorAll('td'))
                        .map(function (c) { return c.innerText.trim(); });
                }).filter(function (r) { return r.length > 3; });"""
        self.wait("alarm rows", lambda: self.js(rows_js))
        entry["rows"] = self.js(rows_js)
        self.shot(entry)

    def entities(self) -> None:
        entry = self.open("entities", "/project/vitrageentities/")
        unit = self.args.unit
        self.wait("graph vertices", lambda: self.js(ENTITY_NODES_JS))
        if unit:
            self.wait(f"vertex {unit}", lambda: any(
                n["name"] == unit for n in self.js(ENTITY_NODES_JS)))
        # The force layout has settled (d3 v3 sets alpha to 0 at its end).
        self.wait("settled layout", lambda: self.js(
            "return !window.dforce || window.dforce.alpha() === 0"),
            timeout=30)
        entry["nodes"] = self.js(ENTITY_NODES_JS)
        entry["links"] = self.js(ENTITY_LINKS_JS)
        if unit:
            self.select(entry, unit)
        self.shot(entry)

    def select(self, entry: dict, name: str) -> None:
        """Click the vertex: the graph's info panel lists its properties."""
        found = self.driver.find_elements(
            By.CSS_SELECTOR, f'svg g.node[name="{name}"] circle')
        if not found:
            self.report["errors"].append(f"entities: no vertex {name}")
            return
        try:
            found[0].click()
        except WebDriverException:
            self.js("arguments[0].dispatchEvent(new MouseEvent('click', "
                    "{bubbles: true}))", found[0])
        info_js = ("var e = document.querySelector('.entities-info');"
                   "return e && e.offsetParent ? e.innerText : '';")
        self.wait("info panel", lambda: name in self.js(info_js))
        entry["selected"] = name
        entry["info"] = self.js(info_js)

    def rca(self) -> None:
        """The alarms page's RCA button of the alarm: a modal graph."""
        name = self.args.alarm
        self.page = "rca"
        t = time.monotonic()
        entry: dict = {}
        self.report["pages"]["rca"] = entry
        buttons = [
            row.find_element(By.CSS_SELECTOR, "a.btn-info")
            for row in self.driver.find_elements(By.CSS_SELECTOR,
                                                 "table tbody tr")
            if name in row.text and row.find_elements(By.CSS_SELECTOR,
                                                      "a.btn-info")]
        if not buttons:
            self.report["errors"].append(f"rca: no RCA button for {name}")
            return
        buttons[0].click()
        self._t = t
        modal_js = ("var e = document.querySelector('.modal-content');"
                    "return e ? e.innerText : '';")
        self.wait("RCA graph", lambda: self.js(
            "return document.querySelectorAll("
            "'.modal-content svg g.node').length") > 0)
        time.sleep(1)
        entry["url"] = self.driver.current_url
        entry["nodes"] = self.js(modal_js)
        self.shot(entry)

    def run(self) -> dict:
        try:
            self.login()
            self.topology()
            self.entities()
            self.alarms()
            if self.args.alarm:
                self.rca()
        finally:
            self.driver.quit()
        return self.report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:28080")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="devcloud")
    p.add_argument("--out", default="var/test-artefacts")
    p.add_argument("--unit", help="name of a vertex to select in the "
                                  "entity graph")
    p.add_argument("--alarm", help="name of an alarm whose RCA to open")
    report = Pages(p.parse_args()).run()
    json.dump(report, sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
