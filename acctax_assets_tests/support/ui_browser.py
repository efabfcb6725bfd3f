"""Plumbing for the browser test: the real `acctax ui` in its own process group, headless Debian Chromium driven
by Playwright, and screenshots kept as artifacts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# The machine's closed network refuses Chromium's background connections (updates, sync, QUIC probes); without
# these flags those attempts stall page loads.
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
ARTIFACTS_ENV = "ACCTAX_TEST_ARTIFACTS"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Pages load slowly on 2 busy cores: every browser wait defaults to a minute.
UI_TIMEOUT_MS = 60_000
LOCATION_STATUS_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e-?\d+)?$")


def artifacts_dir() -> Path:
    """Where screenshots and the UI log go: $ACCTAX_TEST_ARTIFACTS, else test-artifacts/ui in the checkout (gitignored)."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or REPO_ROOT / "test-artifacts" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DagsterUI:
    """A running `acctax ui` (webserver + daemon) and where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


@contextmanager
def acctax_ui(env: dict[str, str], log: Path, startup_timeout: float = 180.0) -> Iterator[DagsterUI]:
    """Start `acctax ui` on a free loopback port and wait until it serves the loaded code location. The command
    runs in a new session so that teardown reaches dagster dev, its code server, the daemon and every run worker."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "acctax_assets.cli", "ui", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ui = DagsterUI(process, f"http://127.0.0.1:{port}", log)
        try:
            wait_until_served(ui, startup_timeout)
            yield ui
        finally:
            stop_process_group(process)


def wait_until_served(ui: DagsterUI, timeout: float) -> None:
    """Until the webserver answers and has loaded the code location; a location that fails to import is reported
    with Dagster's error instead of surfacing later as a page without assets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            raise AssertionError(f"`acctax ui` exited with {ui.process.returncode} before serving:\n{ui.log_tail()}")
        entries = location_entries(ui)
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [
                entry["locationOrLoadError"]
                for entry in entries
                if entry["locationOrLoadError"]["__typename"] == "PythonError"
            ]
            assert not errors, (
                f"The Dagster UI could not load the code location: {errors[0]['message']}\n{ui.log_tail()}"
            )
            return
        time.sleep(1)
    raise AssertionError(
        f"The Dagster UI did not serve a loaded code location on {ui.url} within {timeout:.0f} s:\n{ui.log_tail()}"
    )


def location_entries(ui: DagsterUI) -> list[dict]:
    """The workspace's code locations as the webserver's GraphQL API reports them; empty while it is not up."""
    request = urllib.request.Request(
        f"{ui.url}/graphql",
        data=json.dumps({"query": LOCATION_STATUS_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            workspace = json.load(response)["data"]["workspaceOrError"]
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, KeyError):
        return []
    return workspace.get("locationEntries", [])


def stop_process_group(process: subprocess.Popen, grace: float = 45.0) -> None:
    """SIGTERM the whole group, give run workers time to shut down, then SIGKILL whatever is left."""
    group = process.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (no browser download by Playwright)."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser) -> Page:
    """A desktop-sized page (the instance disables Dagster's community pop-up, so no dialog is dismissed here)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    return page


def labelled(label: str) -> re.Pattern[str]:
    """An accessible name that ends with `label`: Dagster prefixes the names of links with their icon's ("runs Runs")."""
    return re.compile(rf"(^|\s){re.escape(label)}$")


def nav_link(page: Page, label: str) -> Locator:
    return page.get_by_role("navigation").get_by_role("link", name=labelled(label))


def screenshot(page: Page, name: str) -> Path:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def metadata_number(page: Page, key: str) -> float:
    """The number shown for metadata entry `key` in the metadata table on screen (the first numeric cell after
    the key, so it works for both the partition view and the asset overview, which adds a timestamp column)."""
    row = metadata_row(page, key)
    cells = [cell.strip() for cell in row.get_by_role("cell").all_inner_texts()]
    numbers = [cell for cell in cells[1:] if NUMBER.match(cell)]
    assert numbers, f"Expected a number next to metadata entry {key!r} in the UI, the row shows {cells}"
    return float(numbers[0])


def metadata_row(page: Page, key: str) -> Locator:
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True)).first
    row.wait_for()
    return row
