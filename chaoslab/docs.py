"""Keeps the README's reference tables true to the code: components and ports from
``topology``, environment variables from ``settings``.

``python -m chaoslab.docs`` rewrites the generated sections (``make docs``);
``--check`` exits 1 when the README is stale (tests/unit/test_docs.py runs it).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from chaoslab import settings
from chaoslab.topology import COMPONENTS, DEPENDENCIES

README = Path(__file__).resolve().parents[1] / "README.md"


def components_table() -> str:
    rows = ["| Component | Role | Ports (container / preferred local) | Calls |", "|---|---|---|---|"]
    for c in COMPONENTS:
        ports = ", ".join(f"{name} {port}" for name, port in c.ports.items())
        calls = ", ".join([peer + (" (deadlock drill only)" if peer in c.dormant else "")
                           for peer, _ in c.peers.values()] + list(c.uses)) or "nothing"
        rows.append(f"| `{c.name}` | {c.role} | {ports} | {calls} |")
    for d in DEPENDENCIES:
        rows.append(f"| `{d.name}` | {d.role} | {d.port} | |")
    return "\n".join(rows) + "\n"


def settings_tables() -> str:
    out: list[str] = []
    for group in settings.ALL_GROUPS:
        out += [f"**{group.__doc__.strip()}**", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        for name, default, help_text in settings.describe(group):
            shown = f"`{default}`" if default != "" else "(empty)"
            out.append(f"| `{name}` | {shown} | {help_text} |")
        out.append("")
    out += ["**OpenTelemetry (read by the SDK itself)**", "", "| Variable | Meaning |", "|---|---|"]
    out += [f"| `{name}` | {help_text} |" for name, help_text in settings.OTEL_VARIABLES.items()]
    return "\n".join(out) + "\n"


SECTIONS = {"components": components_table, "settings": settings_tables}


def render(text: str) -> str:
    for name, build in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no generated section {name!r}")
        text = pattern.sub(lambda m: m.group(1) + build() + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print("README.md reference tables are stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    print("README.md reference tables regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
