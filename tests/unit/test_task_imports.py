"""The queue layer's import structure: no circle, a leaf for the job definitions.

The queue (storage of jobs) must not know the worker (running them) or the
handlers (what running means); the wiring passes the handlers in. Imports
inside functions count as much as module-level ones (a deferred import was
what hid the old circle); only ``if TYPE_CHECKING:`` blocks do not, since they
never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "sidecar" / "tasks"
# Every module of sidecar.tasks (the Slack jobs the queue registers included).
MODULES = sorted(
    f"sidecar.tasks.{p.stem}" for p in TASKS.glob("*.py") if p.stem != "__init__"
)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(module: str) -> set[str]:
    """The sidecar modules ``module`` imports when it runs (not for type checking)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("sidecar"):
                found.add(node.module)
                # "from sidecar.tasks import worker" imports the submodule.
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    if (ROOT / (candidate.replace(".", "/") + ".py")).exists():
                        found.add(candidate)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sidecar"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def internal_graph() -> dict[str, set[str]]:
    """module -> the modules of MODULES it imports at run time."""
    return {m: runtime_imports(m) & set(MODULES) for m in MODULES}


def test_the_job_definitions_are_a_leaf() -> None:
    """sidecar.tasks.jobs imports nothing of the project: anyone may import it."""
    assert runtime_imports("sidecar.tasks.jobs") == set()


def test_the_queue_knows_neither_the_worker_nor_the_handlers() -> None:
    """The queue stores jobs; who runs them, and with what, is given to it."""
    imported = runtime_imports("sidecar.tasks.queue")
    assert "sidecar.tasks.worker" not in imported
    assert "sidecar.tasks.handler" not in imported
    assert "sidecar.tasks.handler" not in runtime_imports("sidecar.tasks.worker")


def test_no_import_circle_among_the_task_modules() -> None:
    """The run-time import graph of sidecar.tasks (and the Slack jobs) has no cycle."""
    graph = internal_graph()
    visiting: list[str] = []
    done: set[str] = set()

    def walk(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycle = [*visiting[visiting.index(module) :], module]
            pytest.fail("import circle: " + " -> ".join(cycle))
        visiting.append(module)
        for imported in sorted(graph[module]):
            walk(imported)
        visiting.pop()
        done.add(module)

    for module in MODULES:
        walk(module)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """Importing any one of them first works (a circle breaks some import order)."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
