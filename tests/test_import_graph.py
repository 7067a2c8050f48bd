"""The import graph of the two apps, read from the source (lazy imports included): no circles
between modules, and the catalogue (papers/) imports nothing from newsletter/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("newsletter", "papers")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    files = {}
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    return files


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of the two apps it imports, anywhere in its body."""
    files = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from newsletter import tasks` imports the module newsletter.tasks.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            else:
                continue
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_module_of_the_apps_imports_itself_in_a_circle():
    assert cycles(import_graph()) == []


def test_the_catalogue_imports_nothing_from_newsletter():
    leaks = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == "papers"
        for target in targets
        if target.split(".")[0] == "newsletter"
    )
    assert leaks == []


def test_the_graph_sees_lazy_imports_inside_functions():
    # synonyms reads its table from the models inside a function, not at the top.
    assert "newsletter.models" in import_graph()["newsletter.synonyms"]


def test_a_lazy_import_back_is_a_circle(tmp_path):
    (tmp_path / "newsletter").mkdir()
    (tmp_path / "papers").mkdir()
    (tmp_path / "newsletter" / "tasks.py").write_text("from newsletter import services\n")
    (tmp_path / "newsletter" / "services.py").write_text(
        "def enqueue():\n    from newsletter.tasks import send\n"
    )
    (tmp_path / "papers" / "feeds.py").write_text("from newsletter.models import Topic\n")
    (tmp_path / "newsletter" / "models.py").write_text("")

    graph = import_graph(tmp_path)

    assert cycles(graph) == [["newsletter.services", "newsletter.tasks"]]
    assert graph["papers.feeds"] == {"newsletter.models"}


def test_a_circle_is_reported_with_every_module_in_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
