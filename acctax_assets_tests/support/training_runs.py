"""Training as the tests run it: a tiny training_job config, what a run left behind (adapter, model registry), a
trainer config without Dagster, and a killer of training ranks standing in for a preempted node."""

import threading
import time
from pathlib import Path

import psutil
from dagster import DagsterInstance, ExecuteInProcessResult

from acctax_assets.definitions import defs
from acctax_assets.defs.ml_resources import tracking_uri
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.model_registry import ModelRegistry
from acctax_assets.ml.training_config import TrainingConfig
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import QUIET

TINY_TRAINING = {"max_steps": 12, "eval_steps": 6, "save_steps": 6, "per_device_batch_size": 16, "learning_rate": 2e-3}


def run_config(classifier: dict | None = None, min_f1: float = 0.0, max_drop: float = 0.05) -> dict:
    """training_job's run config for a tiny training (`classifier` overrides it) and the given quality gate."""
    return {
        "ops": {"account_classifier": {"config": {**TINY_TRAINING, **(classifier or {})}}},
        "resources": {"model_settings": {"config": {"min_f1_macro": min_f1, "max_f1_drop": max_drop}}},
        **QUIET,
    }


def train(instance: DagsterInstance, config: dict) -> ExecuteInProcessResult:
    return defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config=config, raise_on_error=False
    )


def newest_adapter(home: AcctaxHome) -> AdapterRef:
    versions = sorted(p for p in (home.storage / "account_classifier").iterdir() if p.is_dir())
    return AdapterRef(versions[-1])


def model_registry(home: AcctaxHome) -> ModelRegistry:
    return ModelRegistry(tracking_uri(home))


def config_for(tmp_path: Path, **overrides: object) -> TrainingConfig:
    """A trainer config whose paths all lie under `tmp_path`; `overrides` set any other field."""
    values: dict[str, object] = {
        "base_model": str(tmp_path / "model"),
        "dataset_dir": str(tmp_path / "dataset"),
        "registry_path": str(tmp_path / "label_registry.json"),
        "output_dir": str(tmp_path / "out"),
    }
    values.update(overrides)
    return TrainingConfig.model_validate(values)


class RankKiller:
    """SIGKILLs training ranks (all, or the one with `local_rank`) once a checkpoint exists under `work_root`, as a
    preempted node or an OOM kill would, from a thread while the run goes on."""

    def __init__(self, work_root: Path, local_rank: int | None = None, timeout: float = 240) -> None:
        self._work_root, self._rank, self._timeout = work_root, local_rank, timeout
        self.killed: list[int] = []
        self._thread = threading.Thread(target=self._watch)

    def __enter__(self) -> "RankKiller":
        self._earlier = set(self._checkpoints())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()

    def _is_target(self, cmdline: list[str]) -> bool:
        """A rank of this test's training only: its `--config` lies under `work_root` (another test or benchmark
        training on the same machine is left alone)."""
        line = " ".join(cmdline)
        wanted = "--local_rank" if self._rank is None else f"--local_rank={self._rank}"
        return "acctax_assets.ml.training" in line and wanted in line and f"{self._work_root}/" in line

    def _checkpoints(self) -> list[Path]:
        return [
            path
            for path in self._work_root.glob("*/checkpoints/checkpoint-*")
            if (path / "trainer_state.json").exists()
        ]

    def _watch(self) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline and not self.killed:
            if set(self._checkpoints()) - self._earlier:
                for process in psutil.process_iter(["cmdline"]):
                    if self._is_target(process.info["cmdline"] or []):
                        process.kill()
                        self.killed.append(process.pid)
            time.sleep(0.5)
