"""Property-based fuzzing: Schemathesis from the OpenAPI documents the services
serve, Hypothesis for the gRPC services. The pass condition is no 5xx and no INTERNAL or UNKNOWN.

Each run is bounded by a number of examples per operation and mode (``EXAMPLES``), so the whole
folder adds about a minute to the suite; the counts are printed at the end of the run.
"""

from __future__ import annotations

from collections import Counter

import pytest

SENT: Counter = Counter()
"""Requests (HTTP) or calls (gRPC) made, per API operation."""


@pytest.fixture
def sent() -> Counter:
    return SENT


def pytest_terminal_summary(terminalreporter):
    if not SENT:
        return
    terminalreporter.section("fuzzing: requests per operation (no 5xx, no INTERNAL/UNKNOWN allowed)")
    for api in sorted({name.split(" ", 1)[0] for name in SENT}):
        mine = {name: count for name, count in SENT.items() if name.startswith(api + " ")}
        terminalreporter.write_line(f"{api}: {sum(mine.values())} in total")
        for name, count in sorted(mine.items()):
            terminalreporter.write_line(f"  {name[len(api) + 1 :]:<44} {count:>6}")
