"""No import cycle between sidecar's packages (ARCHITECTURE, "Layers").

`lint-imports` in the test command holds the whole layer table; this test says
the one rule every layering rests on in plain pytest terms, and names the
imports that close a cycle when one appears. Imports under ``TYPE_CHECKING``
and inside functions count: a deferred import hides a cycle, it does not break it.
"""

from __future__ import annotations

import itertools

import grimp

from sidecar import metrics
from sidecar.tasks import jobs

ROOT = "sidecar"


def package_of(module: str) -> str:
    """Return the child of ``sidecar`` that ``module`` belongs to."""
    return ".".join(module.split(".")[:2])


def package_edges(graph: grimp.ImportGraph) -> dict[tuple[str, str], list[str]]:
    """(importer package, imported package) -> the module imports behind it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module in sorted(graph.modules):
        if module == ROOT or not module.startswith(ROOT + "."):
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(ROOT + "."):
                continue
            pair = (package_of(module), package_of(imported))
            if pair[0] != pair[1]:
                edges.setdefault(pair, []).append(f"{module} -> {imported}")
    return edges


def find_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Return one cycle of packages (first package repeated at the end), or []."""
    following: dict[str, list[str]] = {}
    for importer, imported in sorted(edges):
        following.setdefault(importer, []).append(imported)
    visiting: list[str] = []
    done: set[str] = set()

    def walk(package: str) -> list[str]:
        if package in done:
            return []
        if package in visiting:
            return [*visiting[visiting.index(package) :], package]
        visiting.append(package)
        for nxt in following.get(package, []):
            cycle = walk(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(package)
        return []

    for package in sorted(following):
        cycle = walk(package)
        if cycle:
            return cycle
    return []


def test_no_cycle_between_sidecars_packages() -> None:
    """Every package of sidecar is above or below each other one, never both."""
    edges = package_edges(grimp.build_graph(ROOT, cache_dir=None))
    cycle = find_cycle(edges)
    why = [
        line
        for importer, imported in itertools.pairwise(cycle)
        for line in edges[(importer, imported)]
    ]
    assert cycle == [], "package cycle " + " -> ".join(cycle) + ":\n" + "\n".join(why)


def test_the_check_sees_a_cycle_through_three_packages() -> None:
    """A cycle made of module imports in three packages is found and named."""
    graph = grimp.ImportGraph()
    for module in ("sidecar", "sidecar.a", "sidecar.a.x", "sidecar.b", "sidecar.c"):
        graph.add_module(module)
    graph.add_import(importer="sidecar.a.x", imported="sidecar.b")
    graph.add_import(importer="sidecar.b", imported="sidecar.c")
    graph.add_import(importer="sidecar.c", imported="sidecar.a")
    edges = package_edges(graph)
    assert find_cycle(edges) == ["sidecar.a", "sidecar.b", "sidecar.c", "sidecar.a"]
    assert edges[("sidecar.a", "sidecar.b")] == ["sidecar.a.x -> sidecar.b"]


def test_the_check_passes_a_layered_graph() -> None:
    """Imports that only go down are no cycle."""
    graph = grimp.ImportGraph()
    for module in ("sidecar", "sidecar.top", "sidecar.mid", "sidecar.low"):
        graph.add_module(module)
    graph.add_import(importer="sidecar.top", imported="sidecar.mid")
    graph.add_import(importer="sidecar.top", imported="sidecar.low")
    graph.add_import(importer="sidecar.mid", imported="sidecar.low")
    assert find_cycle(package_edges(graph)) == []


def test_the_counters_label_every_job_the_queue_knows() -> None:
    """sidecar.metrics (below the application) names the same jobs as the queue."""
    assert set(metrics.JOB_NAMES) == {*jobs.JOBS, *jobs.SLACK_JOBS, *jobs.ONCALL_JOBS}
