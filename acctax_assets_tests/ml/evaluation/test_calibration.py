"""Temperature scaling: it recovers a known temperature, never changes a proposal or an untrained slot, never
worsens valid NLL, and the served model applies the registered temperature to new rows and to its valid rows."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.evaluation.calibration import (
    CalibratedScorer,
    CalibrationError,
    calibrated_confidence,
    calibrated_rows,
    fit_temperature,
    nll,
    recalibrate_eval_rows,
    scale,
)
from acctax_assets.ml.evaluation.outputs import EvalOutputs
from acctax_assets.ml.serving.model_registry import RegisteredCandidate
from acctax_assets.ml.serving.served_model import ServedModel, calibrated

SLOTS, TRAINED = 9, 6


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def synthetic(rows: int, sharpness: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) over 6 trained slots; the model reports softmax(sharpness * z), with slots 6-8
    untrained (exact 0). The true temperature is `sharpness`: softmax(log p / T) = softmax(z) at T = sharpness."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, (rows, TRAINED))
    truth = softmax(logits)
    labels = (truth.cumsum(axis=1) > rng.uniform(size=(rows, 1))).argmax(axis=1)
    probabilities = np.zeros((rows, SLOTS), dtype=np.float32)
    probabilities[:, :TRAINED] = softmax(sharpness * logits)
    return probabilities, labels


@pytest.mark.parametrize("sharpness", [2.0, 0.5])
def test_the_fit_recovers_a_known_temperature(sharpness: float) -> None:
    probabilities, labels = synthetic(6000, sharpness)
    fitted = fit_temperature(probabilities, labels)
    assert fitted.temperature == pytest.approx(sharpness, rel=0.08), "over-confident -> T > 1, under-confident -> T < 1"
    assert fitted.valid_nll_after < fitted.valid_nll_before
    assert fitted.valid_ece_after < fitted.valid_ece_before
    assert fitted.valid_nll_after == pytest.approx(nll(probabilities, labels, fitted.temperature))
    assert fitted.temperature == round(fitted.temperature, 4), "the registry tag's precision: served = scored"


def test_calibrated_probabilities_keep_argmax_top_k_order_and_zero_slots() -> None:
    probabilities, _ = synthetic(500, 2.0, seed=1)
    probabilities[0, :3] = [0.4, 0.4, 0.2]  # a tie stays a tie, first index first
    probabilities[0, 3:TRAINED] = 0.0
    for temperature in (0.3, 1.7, 5.0):
        scaled = scale(probabilities, temperature)
        assert np.allclose(scaled.sum(axis=1), 1.0)
        assert (scaled[:, TRAINED:] == 0).all() and (scaled[0, 3:] == 0).all(), "untrained slots stay exactly 0"
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :3]
        assert (np.argsort(-scaled, axis=1, kind="stable")[:, :3] == order).all(), "top-3 order unchanged"
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()
        assert scaled[0, 0] == scaled[0, 1]
        assert np.allclose(calibrated_confidence(probabilities, temperature), scaled.max(axis=1), atol=1e-6)
    assert np.allclose(scale(probabilities, 1.0), probabilities, atol=1e-6)


def test_a_calibrated_model_keeps_its_probabilities_and_nll_never_worsens() -> None:
    probabilities, labels = synthetic(3000, 1.0, seed=2)
    fitted = fit_temperature(probabilities, labels)
    assert fitted.temperature == pytest.approx(1.0, abs=0.08)
    assert fitted.valid_nll_after <= fitted.valid_nll_before
    one_hot = np.eye(SLOTS, dtype=np.float32)[[0, 1, 2, 0]]
    certain = fit_temperature(one_hot, np.array([0, 1, 2, 1]))
    assert certain.valid_nll_after <= certain.valid_nll_before, "a wrong certain row costs the floor at every T"
    with pytest.raises(ValueError, match="labels must be slot ids"):
        fit_temperature(one_hot, np.array([0, 1, 2, SLOTS]))


def outputs(seed: int = 3) -> EvalOutputs:
    valid, valid_labels = synthetic(300, 2.0, seed)
    test, test_labels = synthetic(200, 2.0, seed + 1)
    return EvalOutputs(
        labels={"valid": valid_labels, "test": test_labels}, probabilities={"valid": valid, "test": test}
    )


def test_calibrated_rows_change_confidence_only_and_match_the_served_recalibration(tmp_path: Path) -> None:
    stored = outputs()
    stored.save(tmp_path)
    raw = stored.rows()
    rows = calibrated_rows(stored, 2.0)
    assert rows[["split", "label", "predicted"]].equals(raw[["split", "label", "predicted"]])
    assert (rows["confidence"] < raw["confidence"]).mean() > 0.9, "T = 2 softens an over-confident model"
    served = recalibrate_eval_rows(tmp_path, pd.read_parquet(tmp_path / "eval_predictions.parquet"), 2.0)
    assert np.array_equal(served["confidence"].to_numpy(), rows["confidence"].to_numpy())
    (tmp_path / "eval_probabilities.npz").unlink()
    with pytest.raises(CalibrationError, match="Fix: re-run training_job"):
        recalibrate_eval_rows(tmp_path, raw, 2.0)


class FixedScorer:
    """A scorer that returns stored probabilities, one row per text index."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.stored = probabilities
        self.trained_ids = np.arange(TRAINED)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.stored[[int(text) for text in texts]]


def served_model(folder: Path, figures: dict[str, float]) -> ServedModel:
    stored = outputs()
    stored.save(folder)
    entry = RegisteredCandidate("1", "baseline", "v1", folder, "d1", ("champion",), figures)
    return ServedModel(
        entry=entry,
        scorer=FixedScorer(stored.probabilities["test"]),
        label_slots=LabelSlots(max_classes=SLOTS, codes=tuple(f"8{i:04d}" for i in range(TRAINED))),
        text_spec=TextSpec(("item",), None, "d1"),
        eval_rows=stored.rows(),
    )


def test_the_served_model_applies_the_registered_temperature_to_new_rows_and_its_valid_rows(tmp_path: Path) -> None:
    raw = served_model(tmp_path, {"test_f1_macro": 0.5})
    assert calibrated(raw) is raw, "a version registered without a temperature is served as it was scored"
    served = calibrated(served_model(tmp_path, {"temperature": 2.0}))
    assert isinstance(served.scorer, CalibratedScorer) and served.scorer.temperature == 2.0
    texts = [str(i) for i in range(50)]
    before, after = raw.predict(texts), served.predict(texts)
    assert (after.ids == before.ids).all(), "calibration never changes a proposal or its alternatives"
    stored = outputs()
    expected = calibrated_confidence(stored.probabilities["test"][:50], 2.0)
    assert np.array_equal(after.probs[:, 0], expected), "new rows get the confidence the scorecard measured"
    assert np.array_equal(served.eval_rows["confidence"].to_numpy(), calibrated_rows(stored, 2.0)["confidence"])
