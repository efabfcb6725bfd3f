"""Candidates scored alike and judged by the quality gate (floor, regression), the champion's selection, the ensemble
weight, the MLflow registry and serving by alias — on hand-made outputs and a real (SQLite) MLflow registry, no
training."""

from pathlib import Path

import numpy as np
import pytest

from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.candidates.baseline import (
    BaselineRef,
    BaselineSettings,
    evaluate_baseline,
    train_baseline,
)
from acctax_assets.ml.candidates.ensemble import (
    MEMBER_COST,
    EnsembleModel,
    EnsembleRef,
    EnsembleSpec,
    Member,
    best_weights,
    ensemble_outputs,
    gated_members,
    simplex_grid,
    weight_search,
)
from acctax_assets.ml.candidates.precedent import PrecedentLookup, PrecedentRef, evaluate_precedent
from acctax_assets.ml.candidates.selection import (
    FIGURES,
    Candidate,
    NoServableCandidateError,
    QualityGate,
    score_candidate,
    select_champion,
)
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.evaluation.confidence import ReviewPolicy
from acctax_assets.ml.evaluation.outputs import EvalOutputs, EvalOutputsError
from acctax_assets.ml.serving.model_registry import (
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    ModelRegistryError,
    NoChampionError,
    ServedFilesMissingError,
)
from acctax_assets.ml.serving.served_model import load_served
from acctax_assets_tests.support.stored_candidates import LABEL_SLOTS, TEXTS, stored_baseline

TRAIN_COUNTS = {"81100": 50, "82200": 30, "83000": 10, "84800": 5}
GATE = QualityGate(floor=0.3, max_drop=0.05)


def outputs_with_accuracy(labels: np.ndarray, accuracy: float, seed: int, confidence: float = 0.8) -> np.ndarray:
    """Probabilities over 6 slots (slots 4-5 untrained, always 0) that are right on the first `accuracy` share of rows."""
    rng = np.random.default_rng(seed)
    probabilities = np.zeros((labels.size, 6), dtype=np.float32)
    right = np.arange(labels.size) < round(accuracy * labels.size)
    wrong_class = (labels + 1 + rng.integers(0, 3, labels.size)) % 4
    chosen = np.where(right, labels, wrong_class)
    probabilities[:, :4] = (1 - confidence) / 3
    probabilities[np.arange(labels.size), chosen] = confidence
    return probabilities


def make_outputs(valid_accuracy: float, test_accuracy: float, seed: int = 0) -> EvalOutputs:
    labels = {split: np.tile(np.arange(4), 25) for split in ("valid", "test")}
    return EvalOutputs(
        labels=labels,
        probabilities={
            "valid": outputs_with_accuracy(labels["valid"], valid_accuracy, seed),
            "test": outputs_with_accuracy(labels["test"], test_accuracy, seed + 1),
        },
    )


def card(kind: str, valid_accuracy: float, test_accuracy: float, dataset: str = "d1"):
    candidate = Candidate(
        kind, f"{kind}-v", Path(f"/nowhere/{kind}"), dataset, make_outputs(valid_accuracy, test_accuracy)
    )
    return score_candidate(candidate, LABEL_SLOTS, TRAIN_COUNTS, ReviewPolicy(target_accuracy=0.97, min_auto_rows=5))


def test_every_candidate_gets_the_same_figures() -> None:
    figures = card("baseline", 0.9, 0.8).figures
    assert figures["valid_accuracy"] == pytest.approx(0.9) and figures["test_accuracy"] == pytest.approx(0.8)
    assert set(figures) >= {
        "test_f1_weighted",
        "test_f1_macro",
        "test_f1_head",
        "test_f1_tail",
        "test_ece",
        "test_review_share",
        "test_error_capture",
    }
    assert 0.0 <= figures["test_ece"] <= 1.0 and 0.0 <= figures["test_review_share"] <= 1.0


def test_scorecards_measure_the_review_queue_on_confidences_calibrated_on_valid() -> None:
    scored = card("baseline", 0.9, 0.8)
    figures = scored.figures
    assert figures["temperature"] < 1, "a model right 90 % of the time at confidence 0.8 is under-confident"
    assert figures["valid_nll"] <= figures["valid_nll_uncalibrated"]
    assert figures["valid_ece"] < figures["valid_ece_uncalibrated"]
    assert figures["valid_accuracy"] == pytest.approx(0.9), "calibration never changes a proposal"
    rows = scored.evaluation.tradeoff
    assert rows["review_share"].tolist()[:2] == [0.0, 0.05] and {"test_auto_accuracy", "threshold"} <= set(rows)
    assert set(FIGURES) == set(figures), "the comparison table, registry tags and MLflow metrics list every figure"


def test_champion_is_the_best_valid_macro_f1_never_the_best_test() -> None:
    decision = select_champion(
        [card("baseline", 0.80, 0.99), card("adapter", 0.95, 0.60), card("ensemble", 0.90, 0.90)], GATE, None, "d1"
    )
    assert decision.champion.candidate.kind == "adapter", "valid decides, test only gates"
    assert decision.challenger is not None and decision.challenger.candidate.kind == "ensemble"
    table = decision.table()
    assert table["candidate"].tolist()[0] == "adapter adapter-v" and table["role"].tolist()[:2] == [
        "champion",
        "challenger",
    ]
    assert "best valid macro F1" in decision.reason


def test_a_tie_goes_to_the_cheaper_model() -> None:
    decision = select_champion(
        [card("ensemble", 0.9, 0.9), card("adapter", 0.9, 0.9), card("baseline", 0.9, 0.9)], GATE, None, "d1"
    )
    assert decision.champion.candidate.kind == "baseline" and "the cheaper model wins" in decision.reason
    assert decision.challenger.candidate.kind == "adapter"


def test_a_gate_failing_candidate_is_never_served_even_with_the_best_valid_score() -> None:
    adapter = card("adapter", 1.0, 0.10)
    decision = select_champion([adapter, card("baseline", 0.8, 0.8)], GATE, None, "d1")
    assert decision.champion.candidate.kind == "baseline" and decision.challenger is None
    gates = dict(zip(decision.table()["candidate"], decision.table()["gate"]))
    assert (
        gates["adapter adapter-v"].startswith("FAILED: test macro F1")
        and "below the floor" in gates["adapter adapter-v"]
    )
    assert "adapter adapter-v failed" in decision.reason


def test_the_regression_guard_compares_with_the_serving_champion() -> None:
    previous = {"version": "baseline old (registry v1)", "f1_macro": 0.95}
    with pytest.raises(NoServableCandidateError, match="below the serving champion baseline old") as error:
        select_champion([card("adapter", 0.8, 0.8), card("baseline", 0.8, 0.8)], GATE, previous, "d1")
    assert (
        "adapter adapter-v:" in str(error.value)
        and "baseline baseline-v:" in str(error.value)
        and "Fix:" in str(error.value)
    )


def test_candidates_of_another_dataset_version_are_never_compared() -> None:
    decision = select_champion([card("adapter", 1.0, 1.0, dataset="d0"), card("baseline", 0.8, 0.8)], GATE, None, "d1")
    assert decision.champion.candidate.kind == "baseline"
    assert any("not comparable" in gate for gate in decision.table()["gate"])
    with pytest.raises(NoServableCandidateError, match="not comparable"):
        select_champion([card("adapter", 1.0, 1.0, dataset="d0")], GATE, None, "d1")


def best(outputs: dict[str, EvalOutputs], metric: str = "accuracy") -> dict[str, float]:
    return best_weights(weight_search(outputs, metric), {kind: MEMBER_COST[kind] for kind in outputs})


def test_ensemble_weights_are_chosen_on_valid_only() -> None:
    adapter, baseline = make_outputs(1.0, 0.2, seed=3), make_outputs(0.3, 1.0, seed=5)
    weights = best({"adapter": adapter, "baseline": baseline})
    assert weights["adapter"] > 0.5, "on valid the adapter is the better half"
    flipped = EvalOutputs(
        labels=adapter.labels,
        probabilities={"valid": adapter.probabilities["valid"], "test": baseline.probabilities["test"]},
    )
    assert best({"adapter": flipped, "baseline": baseline}) == weights, "the test split never moves the weights"


def test_ensemble_of_three_weighs_the_best_member_and_leans_on_the_cheaper_on_ties() -> None:
    members = {
        "adapter": make_outputs(0.5, 0.5, seed=1),
        "baseline": make_outputs(0.6, 0.6, seed=2),
        "precedent": make_outputs(1.0, 1.0, seed=4),
    }
    weights = best(members)
    assert weights["precedent"] == max(weights.values()) and sum(weights.values()) == pytest.approx(1.0)
    same = make_outputs(0.9, 0.9, seed=7)
    assert best({"adapter": same, "precedent": same}) == {"adapter": 0.0, "precedent": 1.0}, (
        "identical members: all weight on the cheaper one"
    )
    assert len(simplex_grid(3)) == 66 and all(sum(point) == pytest.approx(1.0) for point in simplex_grid(3))


def test_a_candidate_that_fails_its_gate_is_never_an_ensemble_member() -> None:
    collapsed = make_outputs(1.0, 0.05, seed=9)
    members, left_out = gated_members(
        {"adapter": collapsed, "baseline": make_outputs(0.6, 0.6, seed=2)}, LABEL_SLOTS, GATE
    )
    assert list(members) == ["baseline"] and "below the floor" in left_out["adapter"]
    assert best(members) == {"baseline": 1.0}, "however good it looks on valid, a failed adapter gets no weight"


def test_ensemble_probabilities_sum_to_one_and_never_propose_an_untrained_slot() -> None:
    outputs = {"adapter": make_outputs(0.9, 0.9, seed=1), "baseline": make_outputs(0.7, 0.7, seed=2)}
    mixed = ensemble_outputs(outputs, {"adapter": 0.35, "baseline": 0.65})
    for split in ("valid", "test"):
        assert np.allclose(mixed.probabilities[split].sum(axis=1), 1.0, atol=1e-5)
        assert (mixed.probabilities[split][:, 4:] == 0).all() and mixed.predicted(split).max() < 4


def test_ensemble_refuses_outputs_of_different_rows() -> None:
    other = make_outputs(0.9, 0.9)
    shifted = EvalOutputs(
        labels={"valid": other.labels["valid"][::-1].copy(), "test": other.labels["test"]},
        probabilities=other.probabilities,
    )
    with pytest.raises(EvalOutputsError, match="different ledger_dataset versions"):
        weight_search({"adapter": make_outputs(0.9, 0.9), "baseline": shifted}, "accuracy")


def test_an_ensemble_stored_before_members_were_listed_still_loads(tmp_path: Path) -> None:
    (tmp_path / "ensemble.json").write_text(
        '{"adapter_version": "a1", "adapter_path": "/a", "baseline_version": "b1", "baseline_path": "/b", '
        '"adapter_weight": 0.3, "dataset_version": "d1"}',
        encoding="utf-8",
    )
    spec = EnsembleSpec.load(tmp_path)
    assert spec.members == (Member("adapter", "a1", "/a", 0.3), Member("baseline", "b1", "/b", 0.7))
    assert EnsembleRef(tmp_path).ledger_dataset_version == "d1"


def test_every_candidate_folder_gives_its_dataset_version_one_way(tmp_path: Path) -> None:
    """Each kind records it where its writer could; the folder says it alike, for folders of earlier releases too."""
    fitted, adapter, legacy = (tmp_path / name for name in ("fitted", "adapter", "legacy"))
    for folder in (fitted, adapter, legacy):
        folder.mkdir()
    (fitted / "metrics.json").write_text('{"dataset_version": "d1"}', encoding="utf-8")
    TextSpec(("desc",), ledger_dataset_version="d1").save(adapter)
    TextSpec(("desc",)).save(legacy)
    assert BaselineRef(fitted).ledger_dataset_version == PrecedentRef(fitted).ledger_dataset_version == "d1"
    assert AdapterRef(adapter).ledger_dataset_version == "d1"
    assert AdapterRef(legacy).ledger_dataset_version == "None", "never comparable with a dataset version"


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_registry_aliases_and_rollback_decide_what_serves(registry: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(NoChampionError, match="Fix: materialize served_classifier"):
        registry.resolve()
    first = stored_baseline(tmp_path / "baseline" / "v1")
    second = stored_baseline(tmp_path / "baseline" / "v2")
    v1 = registry.register("baseline", "v1", first.path, "d1", {"test_f1_macro": 0.9}, None)
    v2 = registry.register("baseline", "v2", second.path, "d1", {"test_f1_macro": 0.8}, None)
    assert registry.register("baseline", "v1", first.path, "d1", {"test_f1_macro": 0.9}, None) == v1, (
        "registering is idempotent"
    )
    registry.set_alias(CHAMPION, v2)
    registry.set_alias(CHALLENGER, v1)
    assert registry.resolve().version == "v2" and registry.resolve(CHALLENGER).version == "v1"
    assert registry.serving_champion() == {"version": "baseline v2 (registry v2)", "f1_macro": 0.8}

    served = load_served(registry.resolve())
    assert served.label == "baseline v2 (registry v2)"
    proposals = served.predict(["party:가게1 | item:주유", "party:가게2 | item:토너", "party:가게1 | item:주유"])
    assert proposals.ids[:, 0].tolist() == [1, 2, 1] and proposals.ids.max() < 4, "untrained slots are never proposed"
    assert (proposals.probs[0] == proposals.probs[2]).all(), (
        "a repeated text gets its text's proposal, rows stay in order"
    )

    registry.set_alias(CHAMPION, v1)
    assert load_served(registry.resolve()).label == "baseline v1 (registry v1)", "moving the alias is the rollback"
    registry.set_alias(CHALLENGER, None)
    assert {v.registry_version: v.aliases for v in registry.versions()} == {v1: (CHAMPION,), v2: ()}


def test_registering_again_refreshes_the_figures_serving_reads(registry: ModelRegistry, tmp_path: Path) -> None:
    registered = registry.register("baseline", "v1", tmp_path, "d1", {"test_f1_macro": 0.9}, None)
    again = registry.register("baseline", "v1", tmp_path, "d1", {"test_f1_macro": 0.9, "temperature": 1.2345}, None)
    assert again == registered
    registry.set_alias(CHAMPION, registered)
    assert registry.resolve().figures == {"test_f1_macro": 0.9, "temperature": 1.2345}, (
        "a version registered before calibration gains its temperature"
    )


def test_an_alias_on_deleted_files_is_an_error_not_a_fallback(registry: ModelRegistry, tmp_path: Path) -> None:
    kept = stored_baseline(tmp_path / "baseline" / "kept")
    gone = stored_baseline(tmp_path / "baseline" / "gone")
    registry.set_alias(CHAMPION, registry.register("baseline", "kept", kept.path, "d1", {}, None))
    registry.set_alias(CHAMPION, registry.register("baseline", "gone", gone.path, "d1", {}, None))
    for file in gone.path.iterdir():
        file.unlink()
    gone.path.rmdir()
    with pytest.raises(ServedFilesMissingError, match="no longer exist; nothing is served in its place"):
        registry.resolve()


def test_an_ensemble_whose_adapter_was_deleted_is_not_served(registry: ModelRegistry, tmp_path: Path) -> None:
    baseline = stored_baseline(tmp_path / "baseline" / "v1")
    folder = tmp_path / "ensemble" / "v1"
    folder.mkdir(parents=True)
    spec = EnsembleSpec(
        (
            Member("adapter", "a1", str(tmp_path / "deleted-adapter"), 0.5),
            Member("baseline", "v1", str(baseline.path), 0.5),
        ),
        "d1",
    )
    EnsembleModel(spec, baseline.eval_outputs(), LABEL_SLOTS, baseline.text_spec()).save(folder)
    registry.set_alias(CHAMPION, registry.register("ensemble", "v1", folder, "d1", {}, None))
    with pytest.raises(ServedFilesMissingError, match="needs its adapter"):
        load_served(registry.resolve())


def test_an_unusable_mlflow_store_names_the_redacted_uri_and_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ModelRegistryError, match="not-a-folder.*Fix: make the store reachable"):
        ModelRegistry(f"sqlite:///{blocker / 'mlflow.db'}").versions()
    with pytest.raises(ModelRegistryError) as error:
        ModelRegistry("postgresql://acctax:s3cret@127.0.0.1:1/mlflow").versions()
    assert "s3cret" not in str(error.value) and "acctax:***@127.0.0.1:1" in str(error.value)


def test_quality_gate_floor_and_regression() -> None:
    gate = QualityGate(floor=0.3, max_drop=0.05)
    assert not gate.judge(0.25, None)[0]
    assert gate.judge(0.5, None)[0]
    previous = {"version": "v1", "f1_macro": 0.6}
    assert gate.judge(0.56, previous)[0]
    passed, reason = gate.judge(0.54, previous)
    assert not passed and "v1" in reason


def test_a_new_code_in_the_test_month_counts_wrong_and_crashes_nothing() -> None:
    train_texts = [f"party:가게{label} | item:{TEXTS[label][0]}" for label in (0, 1, 2) for _ in range(10)]
    train_labels = [label for label in (0, 1, 2) for _ in range(10)]
    test_texts, test_labels = ["party:가게0 | item:커피", "party:새가게 | item:임대료"], [0, 3]
    pipeline = train_baseline(train_texts, train_labels, BaselineSettings())
    _, outputs = evaluate_baseline(
        pipeline, {"valid": (test_texts[:1], [0]), "test": (test_texts, test_labels)}, LABEL_SLOTS
    )
    lookup = PrecedentLookup.fit(train_texts, train_labels, LABEL_SLOTS.max_classes)
    precedent, _ = evaluate_precedent(lookup, {"valid": (test_texts[:1], [0]), "test": (test_texts, test_labels)})
    for name, candidate_outputs in (("baseline", outputs), ("precedent", precedent)):
        card = score_candidate(
            Candidate(name, "v1", Path("."), "d1", candidate_outputs),
            LABEL_SLOTS,
            {"81100": 10, "82200": 10, "83000": 10},
            ReviewPolicy(0.9, 1),
        )
        assert card.figures["test_accuracy"] == 0.5, f"{name}: the new code 84800 is never proposed, so it counts wrong"
        assert candidate_outputs.predicted("test")[1] != 3
