"""House rules that are cheap to check: core never imports gradio, no pickled weights, small files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_gradio_or_demos():
    offenders = [str(p) for p in (ROOT / "core").rglob("*.py") if imported_modules(p) & {"gradio", "demos", "app"}]
    assert offenders == []


def test_demos_never_import_the_app():
    assert [str(p) for p in (ROOT / "demos").rglob("*.py") if "app" in imported_modules(p)] == []


def test_no_pickled_weights_and_no_file_over_10_mb():
    checkpoints = ROOT / "checkpoints"
    pickled = [p for p in checkpoints.rglob("*") if p.suffix in {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}]
    assert pickled == []
    big = [p for p in checkpoints.rglob("*") if p.is_file() and p.stat().st_size > 10 * 1024 * 1024]
    assert big == []


def test_no_torch_load_anywhere():
    uses = [
        str(p) for folder in ("core", "demos") for p in (ROOT / folder).rglob("*.py") if "torch.load(" in p.read_text()
    ]
    assert uses == []
