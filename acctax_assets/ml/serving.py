"""The served model, whatever its kind (no Dagster): adapter, TF-IDF baseline or their ensemble, loaded from the
folder a registry version points at, all giving (rows x registry slots) probabilities and the same top-k."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.baseline import BaselineRef, slot_probabilities
from acctax_assets.ml.calibration import TEMPERATURE_FIGURE, CalibratedScorer, recalibrate_eval_rows
from acctax_assets.ml.ensemble import EnsembleRef, mix
from acctax_assets.ml.eval_outputs import EVAL_PREDICTIONS_FILE
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry, check_registry_matches
from acctax_assets.ml.model_registry import RegisteredCandidate, ServedFilesMissingError
from acctax_assets.ml.predictions import Predictions
from acctax_assets.ml.serialization import TextSpec

if TYPE_CHECKING:
    from acctax_assets.ml.inference import Device, Predictor


class Scorer(Protocol):
    trained_ids: np.ndarray

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


class BaselineScorer:
    def __init__(self, baseline: BaselineRef) -> None:
        self.pipeline = baseline.load()
        self.max_classes = baseline.registry().max_classes
        self.trained_ids = np.asarray(self.pipeline.classes_, dtype=np.int64)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return slot_probabilities(self.pipeline, texts, self.max_classes)


class EnsembleScorer:
    def __init__(self, adapter: Scorer, baseline: Scorer, adapter_weight: float) -> None:
        self.adapter, self.baseline, self.adapter_weight = adapter, baseline, adapter_weight
        self.trained_ids = np.union1d(adapter.trained_ids, baseline.trained_ids)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        # A weight of 0 or 1 leaves one half unused: skip its forward pass.
        if self.adapter_weight == 0.0:
            return self.baseline.probabilities(texts)
        if self.adapter_weight == 1.0:
            return self.adapter.probabilities(texts)
        return mix(self.adapter.probabilities(texts), self.baseline.probabilities(texts), self.adapter_weight)


def _existing(path: Path, what: str, entry: RegisteredCandidate) -> Path:
    if not path.is_dir():
        raise ServedFilesMissingError(
            f"{entry.label} needs its {what} at {path}, which no longer exists; nothing is served in its place. "
            "Fix: move the champion alias to a version whose files exist (`acctax champion --set N`) or re-run training_job"
        )
    return path


@dataclass(frozen=True)
class ServedModel:
    """A registry version ready to score rows: its scorer, label registry, text spec and valid-split rows."""

    entry: RegisteredCandidate
    scorer: Scorer
    registry: LabelRegistry
    text_spec: TextSpec
    eval_rows: pd.DataFrame

    @property
    def label(self) -> str:
        return self.entry.label

    def check_registry(self, current: LabelRegistry) -> None:
        check_registry_matches(self.registry, current, self.label)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Each distinct text is scored once (a month repeats the same vendor, memo and amount often: rent, card
        fees, subscriptions), then the rows get their text's proposal."""
        started = time.perf_counter()
        distinct, row_text = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
        probabilities = self.scorer.probabilities(distinct.tolist())
        top = Predictions.top(probabilities, self.scorer.trained_ids, 0.0)
        return Predictions(ids=top.ids[row_text], probs=top.probs[row_text], seconds=time.perf_counter() - started)


def load_served(
    entry: RegisteredCandidate,
    device: Device = "auto",
    batch_size: int = 64,
    quantize: bool = True,
    workers: int | None = None,
) -> ServedModel:
    """The scorer of `entry`'s kind over its stored folder (an ensemble loads its adapter and baseline too);
    `workers`: the adapter's CPU threads (None: one per torch thread)."""
    folder = _existing(entry.path, "folder", entry)

    def adapter_scorer(path: Path) -> Predictor:
        # Imported here: torch loads only when an adapter is served, not when the code location imports this module.
        from acctax_assets.ml.inference import Predictor

        return Predictor(
            AdapterRef(_existing(path, "adapter", entry)),
            device=device,
            batch_size=batch_size,
            quantize=quantize,
            workers=workers,
        )

    scorer: Scorer
    if entry.kind == "adapter":
        scorer = adapter_scorer(folder)
    elif entry.kind == "baseline":
        scorer = BaselineScorer(BaselineRef(folder))
    elif entry.kind == "ensemble":
        spec = EnsembleRef(folder).spec()
        scorer = EnsembleScorer(
            adapter_scorer(Path(spec.adapter_path)),
            BaselineScorer(BaselineRef(_existing(Path(spec.baseline_path), "baseline", entry))),
            spec.adapter_weight,
        )
    else:
        raise ValueError(f"{entry.label}: unknown candidate kind {entry.kind!r}")
    served = ServedModel(
        entry=entry,
        scorer=scorer,
        registry=LabelRegistry.from_json((folder / REGISTRY_FILE).read_text(encoding="utf-8")),
        text_spec=TextSpec.load(folder),
        eval_rows=pd.read_parquet(folder / EVAL_PREDICTIONS_FILE),
    )
    return calibrated(served)


def calibrated(served: ServedModel) -> ServedModel:
    """`served` with its scorer and its valid/test rows at the temperature served_classifier fitted on valid
    (registry figure `temperature`; 1 for versions registered before calibration), whatever the scorer's kind:
    the review threshold derived from the valid rows and a new month's confidences then mean the same thing."""
    temperature = float(served.entry.figures.get(TEMPERATURE_FIGURE, 1.0))
    if temperature == 1.0:
        return served
    return replace(
        served,
        scorer=CalibratedScorer(served.scorer, temperature),
        eval_rows=recalibrate_eval_rows(served.entry.path, served.eval_rows, temperature),
    )
