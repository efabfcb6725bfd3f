"""Loading what candidates store with joblib, including folders written before `ml/` was split into rooms.

A pickle names the module of every class and function it holds, and those stored before the split name
`acctax_assets.ml.baseline`, `.precedent` and `.evidence`. A served champion must keep serving after an upgrade,
so while a pickle loads the old names point at the modules that now hold the same code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib

MOVED_MODULES = {
    "acctax_assets.ml.baseline": "acctax_assets.ml.candidates.baseline",
    "acctax_assets.ml.precedent": "acctax_assets.ml.candidates.precedent",
    "acctax_assets.ml.evidence": "acctax_assets.ml.candidates.evidence",
}


@contextmanager
def _former_module_names() -> Iterator[None]:
    added = [old for old in MOVED_MODULES if old not in sys.modules]
    for old in added:
        sys.modules[old] = importlib.import_module(MOVED_MODULES[old])
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def load_stored(path: Path) -> Any:
    """`joblib.load`, with the module names of earlier releases resolved to where their code lives now."""
    with _former_module_names():
        return joblib.load(path)
