"""The shape of the code: packages import each other one way only, SQL stays in store/, and a
task's knowledge stays in its task module (no list of tasks, no ``if task ==`` chains)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflowd"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path) -> set[str]:
    """Every workflowd module ``name`` imports, at module level or inside functions (what runs
    only for type checkers is left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("workflowd"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    stem = base[: len(base) - (child.level - 1)]
                    target = ".".join(stem + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("workflowd"):
                    found.add(target)
                    found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


def _unit(module: str) -> str:
    """The top-level package or module of workflowd a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "workflowd"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        src = _unit(name)
        for target in _imports(name, path):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]  # `from pkg import name`: a name, not a module
            dst = _unit(target)
            if dst not in (src, "workflowd"):
                graph.setdefault(src, set()).add(dst)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycle_between_packages() -> None:
    graph = _graph()
    assert graph, "the import graph is empty: the parser found nothing"
    cycles = _cycles(graph)
    detail = {c[0]: {w: sorted(graph.get(w, set()) & set(c)) for w in c} for c in cycles}
    assert not cycles, f"packages that import each other: {detail}"


def test_the_layers_point_down() -> None:
    graph = _graph()
    below_tasks = ("training", "pipeline", "models", "ner", "sentiment", "summary", "store", "config")
    assert not [p for p in below_tasks if "tasks" in graph.get(p, set())]
    assert not {"cli", "daemon", "runtime", "corrections", "review"} & graph.get("tasks", set())
    assert not [p for p, deps in graph.items() if "cli" in deps and p != "__main__"]


def _sources(skip: str = "") -> list[tuple[Path, str]]:
    return [
        (p, p.read_text(encoding="utf-8"))
        for p in PACKAGE.rglob("*.py")
        if not (skip and p.relative_to(PACKAGE).parts[0] == skip)
    ]


def test_sql_lives_in_the_store() -> None:
    sql = re.compile(r"""["'](SELECT |INSERT INTO |UPDATE \w+ SET |DELETE FROM |CREATE TABLE )""")
    found = [f"{p.relative_to(PACKAGE)}: {m.group(1)}" for p, text in _sources("store") for m in sql.finditer(text)]
    assert not found, found


def test_no_task_list_and_no_task_chains() -> None:
    names = re.compile(r"""\(\s*["']classify["'],\s*["']entities["']""")
    chains = re.compile(r"\b(if|elif)\s+[\w.]*task\s*==")
    listed = [str(p.relative_to(PACKAGE)) for p, text in _sources() if names.search(text)]
    chained = [f"{p.relative_to(PACKAGE)}: {m.group(0)}" for p, text in _sources() for m in chains.finditer(text)]
    assert listed == [] and chained == [], (listed, chained)


def test_commands_that_read_the_store_do_not_load_torch() -> None:
    """show, correct, review, steps and check load the tasks (and build the pipelines): that must
    not import torch (a second or more on every command); only running a model does."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from workflowd.config import Settings\n"
        "from workflowd.runtime import build_pipelines, task_registry\n"
        "settings = Settings(data_dir=sys.argv[1])\n"
        "task_registry(settings); build_pipelines(settings)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "/nonexistent/data"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
