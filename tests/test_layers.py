"""The engine stays free of Textual: the app only draws what it reports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conc_tui"
ENGINE = ["telemetry", "models", "workloads"]
ENGINE_MODULES = [
    "config.py",
    "controller.py",
    "engine.py",
    "runner.py",
    "lab.py",
    "lifecycle.py",
    "paths.py",
    "demo.py",
    "printable.py",
    "registry.py",
    "report.py",
]


def _engine_files() -> list[Path]:
    files = [p for folder in ENGINE for p in (PACKAGE / folder).rglob("*.py")]
    return files + [PACKAGE / name for name in ENGINE_MODULES]


@pytest.mark.parametrize("path", _engine_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_module_imports_no_textual(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not name.startswith(("textual", "rich")), f"{path.name} imports {name}"
            assert not name.startswith(("conc_tui.app", "conc_tui.widgets", "conc_tui.screens"))
