"""The house shows its layers: the engine imports no Textual, the package no test double."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conc_tui"
ENGINE = ["telemetry", "models", "workloads"]
ENGINE_MODULES = [
    "config.py",
    "controller.py",
    "messages.py",
    "engine.py",
    "runner.py",
    "lab.py",
    "lifecycle.py",
    "paths.py",
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


TEST_DOUBLES = {"FakeController", "make_snapshot", "LocalRecorder", "FakeEngine"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_test_double_lives_in_the_package(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            assert node.name not in TEST_DOUBLES, f"{path.name} defines {node.name}"
            assert not node.name.startswith("Fake"), f"{path.name} defines {node.name}"
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module != "fakes", f"{path.name} imports the tests' fakes"
    assert not (PACKAGE / "demo.py").exists()
