"""The Prefect UI in a real browser: a pass by `newsmon run` shows as Completed, with its report.

A real Prefect server (own port and home), the monitor's feed on a real local site built from
the bundled samples, `newsmon run` as a subprocess, and headless Debian Chromium driven by
playwright (`executable_path`; no browser download). Chromium comes from `make browser-deps`;
without it the test skips locally and fails under CI.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from tests.flows.prefect_server import BIN, REPO, PrefectServer, describe, run_cli
from tests.flows.prefect_server import prefect_server as prefect_server
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import serve_feed, serve_sample

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope
UI_TIMEOUT_MS = 45_000


def require_chromium() -> None:
    """Skip locally when Debian chromium is absent; fail in CI, where the test must run."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found (install it with `make browser-deps`)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser test")
    pytest.skip(reason)


def run_pass(server: PrefectServer, site: LocalHTTPServer, tmp_path: Path) -> tuple[str, str]:
    """`newsmon run` of a one-feed monitor against `server`; returns (stdout, article title)."""
    arrives = serve_sample(site, *ARRIVES)
    unrelated = serve_sample(site, *UNRELATED)
    feed = serve_feed(site, "/world.xml", [arrives, unrelated])
    monitor = tmp_path / "ui-monitor.yaml"
    monitor.write_text(
        yaml.safe_dump(
            {
                "name": "ui-monitor",
                "seeds": str(REPO / "seeds"),
                "feeds": [{"name": "world", "url": feed, "outlet": "The Guardian"}],
                "channels": {"outbox": True},
                "fetch": {"allow_networks": ["127.0.0.1/32"]},
            }
        ),
        encoding="utf-8",
    )
    env = server.subprocess_env(NEWSMON_DATA_DIR=str(tmp_path / "data"))
    env.pop("NEWSMON_DATABASE_URL", None)
    proc = run_cli([str(BIN / "newsmon"), "run", "--monitor", str(monitor)], env)
    assert proc.returncode == 0, describe(proc)
    return proc.stdout, arrives.title


def test_flow_run_page_shows_completed_run_and_its_report(
    prefect_server: PrefectServer, site: LocalHTTPServer, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    out, title = run_pass(prefect_server, site, tmp_path)
    assert re.search(r"new developments\s+1\b", out), out
    found = re.search(r"Prefect UI\s+(http://\S+/runs/flow-run/[0-9a-f-]{36})", out)
    assert found, f"no flow-run URL in the output:\n{out}"
    url = found[1]
    assert url.startswith(prefect_server.ui_url + "/"), url

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(url)
            # the run's state badge in the page heading
            badge = page.locator(".page-heading-flow-run__meta .state-badge").first
            badge.wait_for(timeout=UI_TIMEOUT_MS)
            page.screenshot(path=str(tmp_path / "flow-run.png"), full_page=True)
            assert badge.inner_text().strip() == "Completed"
            assert "newsmon-monitor" in page.inner_text("body")

            page.locator("li.p-tab", has_text="Artifacts").click()
            report = page.get_by_text("ui-monitor-report", exact=True)
            report.wait_for(timeout=UI_TIMEOUT_MS)
            assert page.get_by_text("ui-monitor-articles", exact=True).is_visible()
            page.screenshot(path=str(tmp_path / "artifacts-tab.png"), full_page=True)

            report.click()
            heading = page.get_by_role("heading", name="New developments")
            heading.wait_for(timeout=UI_TIMEOUT_MS)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert "/artifacts/artifact/" in page.url
            assert page.get_by_role("link", name=title).is_visible()
            body = page.inner_text("body")
        finally:
            browser.close()
    assert "New developments" in body
    assert "newsmon pass: ui-monitor" in body
    assert "summits" in body
