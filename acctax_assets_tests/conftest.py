"""Shared fixtures: an isolated ACCTAX_HOME (with its Dagster instance folder) and a test instance per test."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, instance_for_test

from acctax_assets.paths import AcctaxHome


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AcctaxHome:
    """A fresh ACCTAX_HOME (and DAGSTER_HOME inside it) for one test."""
    monkeypatch.setenv("ACCTAX_HOME", str(tmp_path / "acctax"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "acctax" / "dagster"))
    return AcctaxHome.from_env().ensure()


@pytest.fixture
def landing(home: AcctaxHome) -> Path:
    return home.landing


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance
