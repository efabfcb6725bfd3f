"""Temperature scaling of a candidate's class probabilities (pure numpy; scipy only to fit).

A model's top probability is what the review queue ranks and thresholds, and fine-tuned models are usually
over-confident: a row at 0.99 is right far less often than 99 % of the time. One temperature T per candidate,
fitted on its **valid** rows, rescales every row as softmax(log p / T) = p^(1/T) / sum(p^(1/T)):

- it is monotone in p, so every row keeps its argmax and its top-k order (the proposals do not change);
- slots the candidate never trained hold an exact 0 and stay 0 (log 0 = -inf), so they are never proposed;
- T is rounded to 4 decimals (the precision of a registry tag), so the scorecard, the registry and the served
  model use the very same value, and it is kept only if valid NLL does not get worse (else T = 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.evaluation.confidence import reliability_table
from acctax_assets.ml.evaluation.outputs import EVAL_PROBABILITIES_FILE, EVAL_SPLITS, EvalOutputs

# The registry figure (tag `figure.temperature`) that carries a version's temperature to serving.
TEMPERATURE_FIGURE = "temperature"
# Search range of T: below 0.05 or above 20 the model is not miscalibrated but broken.
TEMPERATURE_BOUNDS: tuple[float, float] = (0.05, 20.0)
# A probability of 0 on the true class costs -log(1e-12) ≈ 27.6 nats instead of infinity (as ensemble.LOG_FLOOR).
LOG_FLOOR = 1e-12
# One scalar needs few rows: the fit reads at most this many valid rows (a fixed random subset).
MAX_FIT_ROWS = 50_000
# Rows per block: bounds the float64 temporaries at office scale (hundreds of thousands of rows x ~260 slots).
CHUNK_ROWS = 8_192


class CalibrationError(AcctaxError):
    """Stored probabilities cannot be calibrated as the served model's valid rows claim."""


@dataclass(frozen=True)
class Calibration:
    """The temperature fitted on valid and what it changed there (NLL in nats per row, ECE over 10 bins)."""

    temperature: float
    valid_rows: int
    valid_nll_before: float
    valid_nll_after: float
    valid_ece_before: float
    valid_ece_after: float

    @property
    def figures(self) -> dict[str, float]:
        return {
            TEMPERATURE_FIGURE: self.temperature,
            "valid_nll_uncalibrated": self.valid_nll_before,
            "valid_nll": self.valid_nll_after,
            "valid_ece_uncalibrated": self.valid_ece_before,
            "valid_ece": self.valid_ece_after,
        }

    def describe(self) -> str:
        direction = (
            "over-confident, softened"
            if self.temperature > 1
            else "under-confident, sharpened"
            if self.temperature < 1
            else "left as is"
        )
        return (
            f"temperature {self.temperature:.4f} fitted on {self.valid_rows} valid rows ({direction}): valid NLL "
            f"{self.valid_nll_before:.4f} -> {self.valid_nll_after:.4f}, valid ECE {self.valid_ece_before:.4f} -> "
            f"{self.valid_ece_after:.4f}"
        )


def _check_temperature(temperature: float) -> None:
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")


def _scaled_block(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) of one block of rows, in float64 (float32 could round two close values into a tie and
    move an argmax); zero slots stay 0 and an all-zero row stays all zero."""
    p = np.asarray(probabilities, dtype=np.float64)
    positive = p > 0
    with np.errstate(divide="ignore"):
        z = np.log(p) / temperature
    top = np.where(positive.any(axis=1, keepdims=True), z.max(axis=1, keepdims=True), 0.0)
    scaled = np.where(positive, np.exp(z - top), 0.0)
    total = scaled.sum(axis=1, keepdims=True)
    return np.divide(scaled, total, out=np.zeros_like(scaled), where=total > 0)


def scale(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(rows x slots) probabilities at `temperature`, float64; ranking per row and exact zeros unchanged."""
    _check_temperature(temperature)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (rows x slots), got shape {probabilities.shape}")
    out = np.empty(probabilities.shape, dtype=np.float64)
    for start in range(0, probabilities.shape[0], CHUNK_ROWS):
        out[start : start + CHUNK_ROWS] = _scaled_block(probabilities[start : start + CHUNK_ROWS], temperature)
    return out


def calibrated_confidence(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Each row's top probability at `temperature`, as float32 like every stored and served confidence (so a
    threshold read from valid rows compares like with like against a new month's confidences)."""
    _check_temperature(temperature)
    confidence = np.empty(probabilities.shape[0], dtype=np.float32)
    for start in range(0, probabilities.shape[0], CHUNK_ROWS):
        confidence[start : start + CHUNK_ROWS] = _scaled_block(
            probabilities[start : start + CHUNK_ROWS], temperature
        ).max(axis=1)
    return confidence


def _label_log_probabilities(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> np.ndarray:
    """log p_label at `temperature` per row (-inf where the label's slot holds 0)."""
    picked = np.empty(labels.size, dtype=np.float64)
    for start in range(0, labels.size, CHUNK_ROWS):
        block = _scaled_block(probabilities[start : start + CHUNK_ROWS], temperature)
        rows = np.arange(block.shape[0])
        with np.errstate(divide="ignore"):
            picked[start : start + CHUNK_ROWS] = np.log(block[rows, labels[start : start + CHUNK_ROWS]])
    return picked


def nll(probabilities: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels at `temperature` (probabilities floored at LOG_FLOOR)."""
    _check_temperature(temperature)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return float("nan")
    picked = _label_log_probabilities(probabilities, labels, temperature)
    return float(-np.maximum(picked, math.log(LOG_FLOOR)).mean())


class _FitSample:
    """The log-probabilities of (a subset of) the valid rows on the slots that are ever positive, computed once:
    the optimiser evaluates the NLL some thirty times. Rows whose label slot is never positive cost the floor at
    every temperature and are only counted."""

    def __init__(self, probabilities: np.ndarray, labels: np.ndarray, max_rows: int) -> None:
        if labels.size > max_rows:
            keep = np.sort(np.random.default_rng(0).choice(labels.size, max_rows, replace=False))
            probabilities, labels = probabilities[keep], labels[keep]
        used = np.flatnonzero((probabilities > 0).any(axis=0))
        with np.errstate(divide="ignore"):
            log_p = np.log(probabilities[:, used].astype(np.float64))
        column = np.searchsorted(used, labels)
        scored = column < used.size
        scored[scored] = used[column[scored]] == labels[scored]
        scored &= np.isfinite(log_p).any(axis=1)
        self.log_p, self.column = log_p[scored], column[scored]
        self.rows, self.floored = labels.size, int((~scored).sum())

    def nll(self, temperature: float) -> float:
        floor = math.log(LOG_FLOOR)
        z = self.log_p / temperature
        top = z.max(axis=1)
        log_total = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        picked = z[np.arange(z.shape[0]), self.column] - log_total
        return float((-np.maximum(picked, floor).sum() - self.floored * floor) / self.rows)


def fit_temperature(
    probabilities: np.ndarray, labels: Sequence[int] | np.ndarray, max_rows: int = MAX_FIT_ROWS
) -> Calibration:
    """The temperature that minimises the valid NLL of softmax(log p / T), T in TEMPERATURE_BOUNDS, searched on
    log T (bounded Brent). Kept only if the NLL on all valid rows is not worse than at T = 1."""
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.size:
        raise ValueError(f"{labels.size} labels but probabilities of shape {probabilities.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= probabilities.shape[1]):
        raise ValueError(
            f"labels must be slot ids in [0, {probabilities.shape[1]}), got {labels.min()}..{labels.max()}"
        )
    correct = probabilities.argmax(axis=1) == labels if labels.size else np.zeros(0, dtype=bool)
    before_nll = nll(probabilities, labels)
    before_ece = reliability_table(probabilities.max(axis=1), correct)[1] if labels.size else math.nan
    if labels.size == 0:
        return Calibration(1.0, 0, before_nll, before_nll, before_ece, before_ece)
    # Imported here: the Dagster code location imports this module (through serving) and must stay light.
    from scipy.optimize import minimize_scalar

    sample = _FitSample(probabilities, labels, max_rows)
    low, high = (math.log(bound) for bound in TEMPERATURE_BOUNDS)
    found = minimize_scalar(
        lambda log_t: sample.nll(math.exp(log_t)), bounds=(low, high), method="bounded", options={"xatol": 1e-5}
    )
    temperature = round(math.exp(float(found.x)), 4)
    after_nll = nll(probabilities, labels, temperature)
    if not after_nll <= before_nll:
        temperature, after_nll = 1.0, before_nll
    after_ece = reliability_table(calibrated_confidence(probabilities, temperature), correct)[1]
    return Calibration(temperature, int(labels.size), before_nll, after_nll, float(before_ece), float(after_ece))


def calibrated_rows(outputs: EvalOutputs, temperature: float) -> pd.DataFrame:
    """`outputs.rows()` (split, label, predicted, confidence) with each confidence at `temperature`."""
    rows = outputs.rows()
    rows["confidence"] = np.concatenate(
        [calibrated_confidence(outputs.probabilities[split], temperature) for split in EVAL_SPLITS]
    )
    return rows


def recalibrate_eval_rows(folder: Path, eval_rows: pd.DataFrame, temperature: float) -> pd.DataFrame:
    """The stored per-row valid/test outputs of the candidate in `folder` with confidences at `temperature`,
    one split in memory at a time (the served model's valid rows at an office's size are large)."""
    if temperature == 1.0:
        return eval_rows
    path = folder / EVAL_PROBABILITIES_FILE
    if not path.is_file():
        raise CalibrationError(
            f"{path} is missing, so the served model's valid confidences cannot be put at its temperature {temperature}. "
            "Fix: re-run training_job so every candidate stores its per-row probabilities"
        )
    rows = eval_rows.copy()
    with np.load(path) as stored:
        for split in EVAL_SPLITS:
            members = (rows["split"] == split).to_numpy()
            probabilities = stored[f"{split}_probabilities"]
            if probabilities.shape[0] != members.sum():
                raise CalibrationError(
                    f"{path}: {probabilities.shape[0]} {split} rows of probabilities but {members.sum()} rows in the "
                    "stored predictions beside it. Fix: re-run training_job (the candidate's files were altered)"
                )
            rows.loc[members, "confidence"] = calibrated_confidence(probabilities, temperature)
    return rows


class ProbabilityScorer(Protocol):
    """What serving.Scorer is (declared here too: serving imports this module)."""

    trained_ids: np.ndarray

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


class CalibratedScorer:
    """Any served scorer (adapter, baseline, ensemble, ...) with its probabilities at the temperature fitted on
    its valid rows: the same transform the scorecard and the review threshold saw."""

    def __init__(self, scorer: ProbabilityScorer, temperature: float) -> None:
        _check_temperature(temperature)
        self.scorer = scorer
        self.temperature = temperature
        self.trained_ids = scorer.trained_ids

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return scale(self.scorer.probabilities(texts), self.temperature)
