"""chaoslab: a multi-service chaos lab for incident-response training.

The import package ``chaoslab`` also holds the repository's top-level folders
``services/``, ``chaos/`` and ``loadtest/`` as ``chaoslab.services``,
``chaoslab.chaos`` and ``chaoslab.loadtest`` (pyproject.toml maps them when
installed). From a bare checkout, the lines below make the same names
resolve to the same folders, so ``python -m chaoslab`` works without an
install.
"""

import importlib.util
import os
import shlex
import shutil
import sys
from pathlib import Path

import click

__version__ = "0.1.0"

MAPPED = {"chaoslab.chaos": "chaos", "chaoslab.services": "services", "chaoslab.loadtest": "loadtest"}
"""The subpackages that are top-level folders of the repository (pyproject.toml's package-dir)."""


class _CheckoutFolders:
    """Finds exactly the mapped subpackages in a bare checkout (nothing else: ``chaoslab.tests`` and
    ``chaoslab.chaoslab`` are no modules)."""

    def __init__(self, checkout: Path):
        self.checkout = checkout

    def find_spec(self, name, path=None, target=None):
        folder = MAPPED.get(name)
        if folder is None:
            return None
        init = self.checkout / folder / "__init__.py"
        return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])


_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").exists() and (_checkout / "chaos" / "scenarios").is_dir():
    sys.meta_path.append(_CheckoutFolders(_checkout))


PROG_ENV = "CHAOSLAB_PROG"
"""The command prefix every printed hint starts with, when set (``up`` hands the lab daemon its own, so
the console's hints name the same lab)."""


def command(args: str) -> str:
    """A chaoslab command line as the user can paste it into this shell, to act on the same lab as the
    command running now: ``chaoslab ARGS`` when the command is on PATH (an activated virtual
    environment), else the path it was run by (``.venv/bin/chaoslab ARGS``, as `make lab` runs it),
    followed by the global options that pointed this command at its lab (``--state-dir`` unless it is
    the default ``.chaoslab`` here, ``--target``, ``--namespace`` and ``--context`` unless defaults):
    without them the pasted hint would ask another lab, usually none. CHAOSLAB_PROG overrides it all."""
    return f"{invocation()} {args}"


def invocation() -> str:
    """The prefix of every hint (see ``command``): the program and the global options that name the lab."""
    return os.environ.get(PROG_ENV) or shlex.join([_program(), *_lab_options()])


def _lab_options() -> list[str]:
    """The global options of the ``chaoslab`` command running in this process (click records each
    parameter's value and default) that a bare command would not repeat; none outside a command."""
    context = click.get_current_context(silent=True)
    if context is None:
        return []
    root = context.find_root()
    given = root.params
    default = {param.name: param.default for param in root.command.params}
    if "state_dir" not in given or "state_dir" not in default:
        return []  # not the chaoslab group (a test's own click command)
    if given["target"] != default["target"]:
        chosen = ["--target", given["target"]]
        if given["namespace"] != default["namespace"]:
            chosen += ["--namespace", given["namespace"]]
        return chosen + (["--context", given["kube_context"]] if given["kube_context"] else [])
    state_dir = Path(given["state_dir"]).expanduser().resolve()
    return [] if state_dir == Path(default["state_dir"]).resolve() else ["--state-dir", str(state_dir)]


def _program() -> str:
    """How this shell reaches the chaoslab program that runs now."""
    invoked = sys.argv[0] if sys.argv else ""
    if os.path.basename(invoked) != "chaoslab":
        return "chaoslab"  # python -m chaoslab, or imported by a test
    on_path = shutil.which("chaoslab")
    if on_path and os.path.exists(invoked) and os.path.samefile(on_path, invoked):
        return "chaoslab"
    relative = os.path.relpath(invoked)
    return relative if not relative.startswith("..") and "/" in relative else invoked
