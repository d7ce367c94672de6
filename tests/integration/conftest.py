"""Fixtures of the console's browser tests (test_console.py, test_console_room.py): one Chromium per test
module (Playwright driving Debian's Chromium, never a downloaded one), a fresh tab per test that
records console errors, the module lab's console under light load (each module defines its own
``lab``, support.module_lab), and where screenshots go (CHAOSLAB_TEST_ARTEFACTS, else
``console-screenshots`` under pytest's base temp)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from chaoslab.console import headless


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CHAOSLAB_TEST_ARTEFACTS") or tmp_path_factory.getbasetemp()) / "console-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright, tmp_path_factory):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")),
        executable_path=headless.chromium(),
        args=headless.FLAGS,
        viewport={"width": 1500, "height": 1000},
    )
    yield context
    context.close()


@pytest.fixture(scope="module")
def console(lab) -> str:
    lab.cli("load", "start", "-u", "6", "-r", "6", "--think-time", "0.3")
    address = lab.cli("console", "--no-open").stdout.strip().removeprefix("console: ")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console/", address), address
    assert re.search(rf"^  console +{re.escape(address)} ", lab.cli("up").stdout, re.MULTILINE), "up prints it"
    yield address
    lab.cli("scenario", "stop", check=False)
    lab.cli("load", "stop")
    lab.cli("reset")


@pytest.fixture
def page(browser):
    """A fresh tab that records console errors and uncaught exceptions."""
    tab = browser.new_page()
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(f"uncaught: {e}"))
    yield tab
    tab.close()
