"""Messages that follow the graph: every asset, job, sensor or schedule an error or fix text of the package names
exists in the code location, and a fix raised by an asset's own module names that asset, an asset it reads, or a
job that runs one of them. A change to the graph that leaves a message stale fails here."""

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey

import acctax_assets
import acctax_assets.defs
from acctax_assets.definitions import defs

PACKAGE = Path(acctax_assets.__file__).parent
REPOSITORY = defs.get_repository_def()
GRAPH = REPOSITORY.asset_graph
ASSETS = {key.to_user_string() for key in GRAPH.get_all_asset_keys()}
JOBS = {job.name for job in REPOSITORY.get_all_jobs() if not job.name.startswith("__")}
AUTOMATION = {sensor.name for sensor in REPOSITORY.sensor_defs} | {s.name for s in REPOSITORY.schedule_defs}
# A fix that asks for a step: the assets or jobs it lists ("re-materialize a, b and c").
STEP = re.compile(r"\b(?:re-)?(?:materialize|rebuild|re-run|run)\s+((?:`?[a-z]+(?:_[a-z0-9]+)+`?(?:,\s*|\s+and\s+)?)+)")
NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
AUTOMATION_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)*_(?:job|sensor|schedule)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose about the code, not messages."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def messages() -> Iterator[tuple[str, str]]:
    """(module path, text) of every string literal of the package that tells the reader to do a step; the
    formatted parts of an f-string read as `{}`."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _docstrings(tree)
        parts = {id(value) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for value in node.values}
        for node in ast.walk(tree):
            if id(node) in skipped | parts:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            else:
                continue
            if "Fix:" in text or STEP.search(text) or AUTOMATION_NAME.search(text):
                yield path.relative_to(PACKAGE).as_posix(), text


def steps(text: str) -> set[str]:
    """The assets and jobs a message asks to materialize or run, and every job, sensor or schedule it names."""
    asked = {name for match in STEP.finditer(text) for name in NAME.findall(match.group(1))}
    return asked | set(AUTOMATION_NAME.findall(text))


MESSAGES = list(messages())


def test_messages_are_found() -> None:
    """The scan reads the package's messages (a broken scan would pass every check below)."""
    assert len(MESSAGES) > 50
    assert any("Fix: re-materialize model_text" in text for _, text in MESSAGES)


@pytest.mark.parametrize(("module", "text"), MESSAGES)
def test_every_step_a_message_names_is_in_the_graph(module: str, text: str) -> None:
    unknown = steps(text) - ASSETS - JOBS - AUTOMATION
    assert not unknown, f"{module}: {text!r} names {sorted(unknown)}, not an asset, job, sensor or schedule"


def _inputs(asset: str) -> set[str]:
    """The asset and the assets it reads: all a failing asset can see is missing."""
    return {asset} | {key.to_user_string() for key in GRAPH.get(AssetKey(asset)).parent_keys}


@pytest.mark.parametrize(
    ("module", "text"), [(m, t) for m, t in MESSAGES if m.startswith("defs/") and Path(m).stem in ASSETS]
)
def test_an_assets_fix_asks_for_itself_or_an_asset_it_reads(module: str, text: str) -> None:
    """A fix raised while an asset runs names that asset or one it reads (what is missing further up shows at that
    input, not here: ledger_dataset reads model_text, so "materialize ledger_features" would be the wrong step); a
    job named there must run one of them."""
    upstream = _inputs(Path(module).stem)
    for name in steps(text):
        if name in JOBS:
            selected = {k.to_user_string() for k in REPOSITORY.get_job(name).asset_layer.selected_asset_keys}
            assert selected & upstream, f"{module}: {text!r}: {name} runs none of {sorted(upstream)}"
        elif name in ASSETS:
            assert name in upstream, f"{module}: {text!r}: {name} is not read by {Path(module).stem}"


def test_the_asset_keys_messages_are_built_from_are_in_the_graph() -> None:
    """Messages take asset names from module-level AssetKey constants (e.g. MODEL_TEXT); each must be a key."""
    constants = {
        f"{module.name}.{name}": value
        for module in pkgutil.iter_modules(acctax_assets.defs.__path__, "acctax_assets.defs.")
        for name, value in vars(importlib.import_module(module.name)).items()
        if isinstance(value, AssetKey)
    }
    assert len(constants) >= 9
    assert {name: key for name, key in constants.items() if key.to_user_string() not in ASSETS} == {}
