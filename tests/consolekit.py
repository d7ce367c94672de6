"""The console's browser tests' helpers (their fixtures are in tests/integration/conftest.py)."""

from __future__ import annotations

from pathlib import Path

README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "console-deadlock.png"
"""Rewritten by the deadlock test under ``make screenshot`` (CHAOSLAB_README_SCREENSHOT=1), with its
neighbours console-projection.png and console-replay.png by the projection and replay tests
(tests/integration/test_console.py and test_console_room.py)."""


def edge(source: str, target: str) -> str:
    return f"#graph-svg .edge[data-source='{source}'][data-target='{target}']"


def updated(page) -> None:
    """Wait until the page has taken at least one update from the server (the stream works)."""
    page.wait_for_function("document.getElementById('live').textContent.startsWith('live')", timeout=15000)
