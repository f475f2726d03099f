"""The floors of the house: lower layers never import higher ones (README "Where things are")."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "interpolate"

# layer -> the packages it must never import (directly or lazily inside a function)
FORBIDDEN = {
    "networks": {"paths", "render", "batch", "studio", "cli", "train", "projection", "directions", "audio"},
    "formats": {"paths", "render", "batch", "studio", "cli"},
    "paths": {"render", "batch", "studio", "cli"},
    "render": {"batch", "studio", "cli"},
}


def imported_packages(path: Path, root: Path = PKG) -> set[str]:
    """First component below interpolate/ of every import in the file (relative or absolute)."""
    here = path.relative_to(root).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - (node.level - 1)]) if node.level > 1 else list(here)
                parts = base + (node.module.split(".") if node.module else [])
                if not parts and node.module is None:
                    parts = [a.name for a in node.names]
            elif node.module and node.module.startswith("interpolate."):
                parts = node.module.split(".")[1:]
            else:
                continue
            if parts:
                found.add(parts[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("interpolate."):
                    found.add(a.name.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_a_higher_one(layer):
    bad = {str(p.relative_to(PKG)): sorted(imported_packages(p) & FORBIDDEN[layer])
           for p in sorted((PKG / layer).rglob("*.py"))}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_import_reader_sees_a_lazy_upward_import(tmp_path):
    """The check itself can fail: a function-level `from ..batch import x` inside render/ is found."""
    (tmp_path / "render").mkdir()
    probe = tmp_path / "render" / "probe.py"
    probe.write_text("def f():\n    from ..batch.ray_runner import plan_workers\n    from .frames import Geometry\n")
    assert imported_packages(probe, root=tmp_path) == {"batch", "render"}
