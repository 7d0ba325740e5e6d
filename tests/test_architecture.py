"""The house's rules (docs/architecture.md): an acyclic import graph, a model that does not import the run's
configuration, one declaration of the options' roles, and protocols that declare every selectable metric."""

from __future__ import annotations

import ast
from pathlib import Path

import config
from config import Config
from evaluation.protocols import PROTOCOLS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES_AND_MODULES = [path for path in ROOT.rglob("*.py")
                        if not any(part.startswith(".") or part in ("tests", "data", "weights", "results")
                                   for part in path.relative_to(ROOT).parts)]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, at any depth of the file (functions included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = {module_name(path) for path in PACKAGES_AND_MODULES}
    return {module_name(path): project_imports(path, known) for path in PACKAGES_AND_MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return stack[stack.index(following):] + [following]
            if following not in state and (cycle := visit(following)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def without_package_exports(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` that re-exports its modules is not an edge back into them from those modules."""
    return {node: {t for t in targets if not (node.startswith(t + ".") and t in graph)}
            for node, targets in graph.items()}


def test_the_import_graph_has_no_cycle():
    graph = without_package_exports(import_graph())
    assert len(graph) > 40
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_model_does_not_import_the_runs_configuration():
    graph = import_graph()
    for node, targets in graph.items():
        if node == "model" or node.startswith("model."):
            assert not {t for t in targets if t == "config" or t.startswith(("training", "evaluation"))}, node


def test_every_option_has_one_role():
    import dataclasses

    roles = {f.name: f.metadata.get("role") for f in dataclasses.fields(Config)}
    assert set(roles.values()) == {"model", "training", "run"}, roles
    assert set(Config().model_options()) == {name for name, role in roles.items() if role == "model"}
    assert set(Config().training_options()) == {name for name, role in roles.items() if role == "training"}


def test_every_metric_a_protocol_declares_can_select_and_nothing_else():
    declared = {name for protocol in PROTOCOLS.values() for name in protocol.metrics} - set(config.SELECTION_RULES)
    assert set(config.SELECTION_METRICS) == declared


def test_every_reported_column_is_a_declared_metric():
    for protocol in PROTOCOLS.values():
        for name in protocol.reported:
            assert protocol.metric(name).header
        assert protocol.f1 in protocol.metrics
