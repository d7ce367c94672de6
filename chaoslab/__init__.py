"""chaoslab: a multi-service chaos lab for incident-response training.

The import package ``chaoslab`` also holds the repository's top-level folders
``services/``, ``chaos/`` and ``loadtest/`` as ``chaoslab.services``,
``chaoslab.chaos`` and ``chaoslab.loadtest`` (pyproject.toml maps them when
installed). From a bare checkout, the lines below make the same names
resolve to the same folders, so ``python -m chaoslab`` works without an
install.
"""

import os
from pathlib import Path

__version__ = "0.1.0"

_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").exists() and (_checkout / "chaos" / "scenarios").is_dir():
    __path__.append(str(_checkout))  # chaoslab.chaos -> chaos/, chaoslab.services -> services/, ...


def command(args: str) -> str:
    """A chaoslab command line as the user can paste it into this shell: ``chaoslab ARGS`` when the
    command is on PATH (an activated virtual environment), else the path it was run by
    (``.venv/bin/chaoslab ARGS``, as `make lab` runs it). CHAOSLAB_PROG overrides both."""
    return f"{_program()} {args}"


def _program() -> str:
    import shutil
    import sys

    if os.environ.get("CHAOSLAB_PROG"):
        return os.environ["CHAOSLAB_PROG"]
    invoked = sys.argv[0] if sys.argv else ""
    if os.path.basename(invoked) != "chaoslab":
        return "chaoslab"  # python -m chaoslab, or imported by a test
    on_path = shutil.which("chaoslab")
    if on_path and os.path.exists(invoked) and os.path.samefile(on_path, invoked):
        return "chaoslab"
    relative = os.path.relpath(invoked)
    return relative if not relative.startswith("..") and "/" in relative else invoked
