"""Imports run one way: from the CLI down through the stages to the shared basics, with no cycle.

Every ``from archiver…`` import counts, including those inside functions, so a lazy import
cannot hide a loop. A stage may import the basics and the stages before it, never after it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "archiver"
# Lowest first. keep (schedules, history, reports) and export (hand-off) are the coming stages.
LAYERS = [
    ("archiver", "archiver.base", "archiver.net", "archiver.warc"),
    ("archiver.collect",),
    ("archiver.capture",),
    ("archiver.clean",),
    ("archiver.bag",),
    ("archiver.attest",),
    ("archiver.verify",),
    ("archiver.keep",),
    ("archiver.export",),
    ("archiver.run",),
    (
        "archiver.cli",
        "archiver.cli_options",
        "archiver.cli_keep",
        "archiver.cli_handoff",
        "archiver.commands",
        "archiver.__main__",
    ),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the archiver modules it imports (a package import names its __init__)."""
    modules = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join(here + ([base] if base else []))
                subs = [f"{base}.{alias.name}" for alias in node.names]
                found = [s if s in modules else base for s in subs]
            else:
                continue
            for target in found:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def _layer(module: str) -> int:
    best, level = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    assert level >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return level


def test_no_import_cycle() -> None:
    graph = _imports()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_imports_follow_the_pipeline_order() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(_imports().items())
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_stage_packages_hold_only_a_docstring() -> None:
    """A stage's ``__init__`` says what it takes in and hands on; it re-exports nothing."""
    for path in sorted(PACKAGE.glob("*/__init__.py")):
        body = ast.parse(path.read_text("utf-8")).body
        assert body and isinstance(body[0], ast.Expr), f"{path}: no docstring"
        assert len(body) == 1, f"{path}: holds code; put it in a module of the package"


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_MARK = "# long because:"  # on the line before the def: a function that must be long says why


def _long_functions(path: Path) -> list[str]:
    lines = path.read_text("utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            length = (node.end_lineno or node.lineno) - start + 1
            explained = start >= 2 and lines[start - 2].strip().startswith(LONG_MARK)
            if length > MAX_FUNCTION_LINES and not explained:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_modules_and_functions_stay_small() -> None:
    """One concept per module, one job per function: the issue-9 limits, kept from now on."""
    too_big = [
        f"{p.relative_to(REPO)} ({n} lines)"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    too_long = [f for p in sorted(PACKAGE.rglob("*.py")) for f in _long_functions(p)]
    assert not too_big, "modules over 400 lines (split by concept):\n  " + "\n  ".join(too_big)
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines without '{LONG_MARK} ...' before the def:\n  "
        + "\n  ".join(too_long)
    )
