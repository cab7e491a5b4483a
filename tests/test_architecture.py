"""The layer order of ``docs/architecture.md``: no import (top level or inside a function)
runs up the layers. A module may import its own package and anything in a lower layer."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1] / "cinedraft"
LAYERS = [  # lowest first; the same order as docs/architecture.md
    {"errors", "_version"},
    {
        "ids",
        "config",
        "request",
        "record",
        "tiers",
        "policy",
        "weighting",
        "prompt_tags",
        "templates",
        "styles",
    },
    {"media"},
    {"quality"},
    {"render"},
    {"library"},
    {"editor", "jobs", "builtin"},
    {"engine"},
    {"catalogue"},
    {"workspace"},
    {"cluster"},
    {"server"},
    {"cli", "__init__", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(first part of the imported cinedraft module, line)`` for every import in a file."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = (
                list(parts[:-1])[: len(parts) - node.level] if node.level > 1 else list(parts[:-1])
            )
            module = base + (node.module.split(".") if node.module else [])
            found.append((module[0] if module else node.names[0].name, node.lineno))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cinedraft."):
            found.append((node.module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name.split(".")[1], node.lineno)
                for a in node.names
                if a.name.startswith("cinedraft.")
            ]
    return found


def test_every_package_has_a_layer():
    packages = {p.relative_to(ROOT).with_suffix("").parts[0] for p in ROOT.rglob("*.py")}
    assert packages <= set(RANK), (
        f"add {sorted(packages - set(RANK))} to LAYERS and docs/architecture.md"
    )


def test_no_import_runs_up_the_layers():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        here = path.relative_to(ROOT).with_suffix("").parts[0]
        for target, line in _imports(path):
            if target != here and RANK.get(target, -1) > RANK[here]:
                upward.append(f"{path.relative_to(ROOT.parent)}:{line} ({here}) imports {target}")
    assert upward == []


def test_the_document_states_the_same_order():
    text = (ROOT.parent / "docs" / "architecture.md").read_text()
    for rank, names in enumerate(LAYERS):
        for name in names:
            assert f"`{name}`" in text, name
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(LAYERS)


def test_the_runtime_never_imports_the_training_world():
    """``cinedraft_training`` (scenes, motions, scorers, recipe) is for the scripts and tests."""
    found = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno}"
        for path in ROOT.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and any(
            "cinedraft_training" in (n or "")
            for n in ([getattr(node, "module", None)] + [a.name for a in node.names])
        )
    ]
    assert found == []


def test_the_engine_is_fully_annotated():
    """Every parameter and return of every function in ``cinedraft/engine`` has a type: the
    engine is the seam every front end and every model family passes through."""
    missing = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            names = [
                p.arg
                for p in params
                if p is not None and p.annotation is None and p.arg not in ("self", "cls")
            ]
            if node.returns is None and node.name != "__init__":
                names.append("return")
            missing += [f"{path.name}:{node.lineno} {node.name}: {n}" for n in names]
    assert not missing, missing
