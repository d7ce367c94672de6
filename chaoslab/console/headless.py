"""How the project's own browser tests and the console's cost benchmark open the console: Debian's
Chromium, headless, driven by Playwright with ``executable_path`` (no browser is ever downloaded).
One place, so the test and the benchmark measure the same browser."""

from __future__ import annotations

import shutil
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium() -> str:
    """The Chromium binary ``make tools`` installs (tools/install-chromium)."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        raise FileNotFoundError("Debian's chromium is missing: `make tools` (tools/install-chromium) installs it")
    return found
