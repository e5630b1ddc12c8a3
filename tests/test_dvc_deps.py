"""dvc.yaml cannot drift from the code: every `ser` module a stage imports, directly or through other `ser`
modules, is one of the stage's dependencies (the module's file or a folder holding it)."""

import ast
from pathlib import Path

import pytest
import yaml

from tests.project_copy import ROOT

pytestmark = pytest.mark.unit

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> Path | None:
    path = ROOT / Path(*name.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(file: Path) -> set[str]:
    """``ser`` modules ``file`` imports (``from ser import x`` counts as ``ser.x`` when that is a module)."""
    names = set()
    for node in _runtime_nodes(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("ser.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ser":
            names.add(node.module)
            names |= {
                f"{node.module}.{alias.name}" for alias in node.names if _module_file(f"{node.module}.{alias.name}")
            }
    return {name for name in names if _module_file(name)}


def _closure(file: Path) -> set[Path]:
    """Files of every ``ser`` module reachable from ``file``, the packages' ``__init__.py`` files included
    (``ser/__init__.py`` pins the SIMD code, so it shapes every stage's bits)."""
    seen: set[Path] = set()
    pending = [file]
    while pending:
        current = pending.pop()
        for name in _imports(current):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing ser.models.mlp runs ser/models/families.py too
                module = _module_file(".".join(parts[:depth]))
                if module and module not in seen:
                    seen.add(module)
                    pending.append(module)
    return seen


def _stage_items() -> list[tuple[str, dict]]:
    items = []
    for name, stage in STAGES.items():
        items.append((name, stage["do"] if "foreach" in stage else stage))
    return items


@pytest.mark.parametrize(("name", "stage"), _stage_items(), ids=[name for name, _ in _stage_items()])
def test_every_imported_module_is_a_dependency(name, stage):
    script = ROOT / stage["cmd"].split()[1]
    deps = [ROOT / str(dep).split(":")[0] for dep in stage["deps"]]
    assert script in deps, f"{name}: its script {script.name} is not a dependency"
    missing = sorted(
        str(module.relative_to(ROOT))
        for module in _closure(script)
        if not any(module == dep or dep in module.parents for dep in deps)
    )
    assert not missing, f"stage {name} imports {missing} but does not depend on them in dvc.yaml"


LAYERS = ("errors", "lean", "onnx_runtime", "pipeline", "data", "audio", "features", "models", "inference", "cli")


def _layer_files(layer: str) -> list[Path]:
    module = ROOT / "ser" / f"{layer}.py"
    return [module] if module.exists() else sorted((ROOT / "ser" / layer).glob("*.py"))


def test_each_layer_of_ser_imports_only_the_layers_below_it():
    """The layout shows the architecture: no subpackage reaches up (e.g. features into models)."""
    parts = {path.stem for path in (ROOT / "ser").iterdir() if not path.name.startswith("_")} - {"__pycache__"}
    assert parts == set(LAYERS), "a new part of ser/ needs a place in LAYERS (and in README's layout)"
    upward = [
        f"{file.relative_to(ROOT)} imports {name}"
        for rank, layer in enumerate(LAYERS)
        for file in _layer_files(layer)
        for name in _imports(file)
        if LAYERS.index(name.split(".")[1]) > rank
    ]
    assert not upward, upward
