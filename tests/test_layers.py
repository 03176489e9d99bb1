"""The layers hold: the domain (`monitors/`) imports no database, pass or Prefect code, and the
pass (`pipeline/`) imports no Prefect. Checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Top-level packages each layer must not import.
FORBIDDEN = {
    "monitors": {"sqlalchemy", "sqlmodel", "storage", "pipeline", "flows", "prefect"},
    "pipeline": {"prefect", "flows"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every import in a module (also imports inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_check_sees_imports_at_any_depth(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\n\ndef f():\n    from sqlmodel import Session\n    import prefect.flows\n"
    )
    assert imported_packages(module) == {"os", "sqlmodel", "prefect"}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_it_must_not(layer: str) -> None:
    modules = sorted((REPO / layer).rglob("*.py"))
    assert modules, f"no modules under {layer}/"
    bad = {
        str(m.relative_to(REPO)): sorted(imported_packages(m) & FORBIDDEN[layer])
        for m in modules
        if imported_packages(m) & FORBIDDEN[layer]
    }
    assert bad == {}, f"{layer}/ must not import {sorted(FORBIDDEN[layer])}: {bad}"
