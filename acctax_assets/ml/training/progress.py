"""Training curves while the Trainer runs: one readable line per log event, and the same values into the MLflow
run the Dagster process opened. Apart from `reporting` because it hooks into the Trainer's callbacks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from acctax_assets.ml.training.reporting import Reporter, logger


class MlflowCurves:
    """Writes metrics into the parent's existing MLflow run; never ends it (the Dagster run owns it, lesson 7)."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        # Imported here: MLflow is slow to import and unused unless the parent handed over a run.
        from mlflow import MlflowClient

        self._client = MlflowClient(tracking_uri)
        self._run_id = run_id

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MlflowCurves | None:
        run_id, uri = env.get("MLFLOW_RUN_ID"), env.get("MLFLOW_TRACKING_URI")
        return cls(uri, run_id) if run_id and uri else None

    def log(self, values: Mapping[str, Any], step: int) -> None:
        """Best effort: a busy MLflow store must not kill hours of training; the Pipes metadata carries the result."""
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException

        now = int(time.time() * 1000)
        metrics = [
            Metric(key=key, value=float(value), timestamp=now, step=step)
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        ]
        if not metrics:
            return
        try:
            self._client.log_batch(self._run_id, metrics=metrics)
        except MlflowException as error:
            logger.warning(
                "could not log %d metrics at step %d to MLflow run %s: %s", len(metrics), step, self._run_id, error
            )


class ProgressCallback(TrainerCallback):
    """One readable line per log event on the main process (replaces the Trainer's print-based callback)."""

    def __init__(self, reporter: Reporter, samples_per_step: int, mlflow: MlflowCurves | None) -> None:
        self._reporter = reporter
        self._samples_per_step = samples_per_step
        self._mlflow = mlflow
        self._last_time = time.perf_counter()
        self._last_step = 0
        self.train_began = False
        self.start_step = 0
        self.start_tokens = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.train_began = True
        self.start_step = self._last_step = state.global_step
        self.start_tokens = state.num_input_tokens_seen
        self._last_time = time.perf_counter()
        if state.is_world_process_zero:
            self._reporter.info(f"training from step {state.global_step} to {state.max_steps}")

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        step = f"step {state.global_step}/{state.max_steps}"
        if "loss" in logs:
            now = time.perf_counter()
            elapsed = now - self._last_time
            rate = (state.global_step - self._last_step) * self._samples_per_step / elapsed if elapsed > 0 else 0.0
            self._last_time, self._last_step = now, state.global_step
            self._reporter.info(
                f"{step} loss={logs['loss']:.4g} lr={logs.get('learning_rate', 0.0):.2e} "
                f"samples/s={rate:.1f} epoch={logs.get('epoch', 0.0):.2f}"
            )
        elif "eval_loss" in logs:
            scores = " ".join(
                f"{key}={logs[key]:.4f}" for key in ("eval_loss", "eval_accuracy", "eval_f1_macro") if key in logs
            )
            self._reporter.info(f"{step} {scores}")
        elif "train_runtime" in logs:
            self._reporter.info(
                f"{step} training done in {logs['train_runtime']:.1f} s, "
                f"samples/s={logs.get('train_samples_per_second', 0.0):.1f}"
            )
        if self._mlflow is not None:
            self._mlflow.log(logs, state.global_step)
