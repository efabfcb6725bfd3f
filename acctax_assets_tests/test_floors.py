"""The map of ARCHITECTURE.md §0 holds: imports run down the floors (cli -> definitions -> defs -> ml -> ledger/demo
-> base modules) and, inside `ml/`, down its rooms; a new import that runs back up fails here, not in review."""

import ast
from pathlib import Path

import pytest

import acctax_assets

PACKAGE = Path(acctax_assets.__file__).parent
BASE = ("atomic_writes", "versioned_dirs", "paths", "errors", "code_location")
FLOORS = {
    **dict.fromkeys(BASE, 0),
    "ledger": 1,
    "demo": 1,
    "ml": 2,
    "defs": 3,
    "definitions": 4,
    "cli": 5,
    "cli_daemon": 5,
}
# ml's rooms, lowest first; training stands beside serving: neither imports the other.
ROOMS = {"data": 0, "evaluation": 1, "candidates": 2, "adapter": 3, "serving": 4, "training": 4}
# Imports the map names as its exceptions, module -> what it may import besides the rule.
EXCEPTIONS = {
    "ml.adapter.writer": {"ml.training.config", "ml.training.errors"},
}


def modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
    )


def imported(module: str) -> set[str]:
    """The package modules `module` imports (at any depth of its code), relative to the package."""
    path = PACKAGE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module == "acctax_assets":
            names += [f"acctax_assets.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        found |= {name.removeprefix("acctax_assets.") for name in names if name.startswith("acctax_assets.")}
    return found


def runs_up(module: str, target: str) -> bool:
    """Whether `module` importing `target` runs up a floor, or up (or across) ml's rooms."""
    if target in EXCEPTIONS.get(module, set()):
        return False
    floor, target_floor = FLOORS[module.split(".")[0]], FLOORS[target.split(".")[0]]
    if floor != target_floor:
        return target_floor > floor
    if module.startswith("ml.") and target.startswith("ml."):
        room, target_room = module.split(".")[1], target.split(".")[1]
        return room != target_room and (ROOMS[target_room] > ROOMS[room] or ROOMS[target_room] == ROOMS[room])
    return module.startswith("ledger") and target.startswith("demo")


@pytest.mark.parametrize("module", modules())
def test_imports_run_down_the_floors(module: str) -> None:
    upward = sorted(target for target in imported(module) if runs_up(module, target))
    assert not upward, f"{module} imports {upward}, on a floor (or ml room) above it: see ARCHITECTURE.md §0"
