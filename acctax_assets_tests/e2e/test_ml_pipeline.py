"""The ML layer end to end on a real Dagster instance: dataset → tokenized → LoRA adapter trained by the real
`deepspeed` launcher (CPU, ZeRO-2) through Pipes + baseline + ensemble → served_classifier promoting the champion
in the MLflow Model Registry (SQLite), and predictions served by the registry alias."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    TableMetadataValue,
    instance_for_test,
)

from acctax_assets import cli, demo
from acctax_assets.definitions import defs
from acctax_assets.defs import retraining
from acctax_assets.defs.metadata_format import as_mapping, significant, table_text
from acctax_assets.defs.ml_resources import EXPERIMENT, tracking_uri
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.confidence import review_threshold
from acctax_assets.ml.serving.model_registry import CHAMPION
from acctax_assets.ml.serving.served_model import load_served
from acctax_assets.ml.training.launch import visible_gpus
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import QUIET, failure_text
from acctax_assets_tests.support.training_runs import (
    TINY_TRAINING,
    RankKiller,
    model_registry,
    newest_adapter,
    run_config,
    train,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landed_home(tmp_path_factory: pytest.TempPathFactory) -> AcctaxHome:
    root = tmp_path_factory.mktemp("ml") / "acctax"
    home = AcctaxHome(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCTAX_HOME", str(root))
        home.ensure()
        demo.main(
            [
                "--start",
                "2024-01",
                "--end",
                "2024-03",
                "--unlabelled-months",
                "1",
                "--rows-per-month",
                "300",
                "--out",
                str(home.landing),
            ]
        )
        job = defs.resolve_job_def("ledger_data_job")
        with instance_for_test() as instance:
            for month in ("2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"):
                assert job.execute_in_process(instance=instance, partition_key=month, raise_on_error=False).success
    return home


@pytest.fixture
def home(landed_home: AcctaxHome, monkeypatch: pytest.MonkeyPatch) -> AcctaxHome:
    monkeypatch.setenv("ACCTAX_HOME", str(landed_home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(landed_home.dagster_home))
    return landed_home


def test_training_job_end_to_end(home: AcctaxHome) -> None:
    with instance_for_test() as instance:
        result = train(instance, run_config())
        assert result.success, failure_text(result)
        for published in ("ledger_dataset", "tokenized_dataset"):
            assert not list((home.storage / published).rglob("cache-*.arrow")), (
                f"nothing writes `datasets` cache files into a published {published} version"
            )

        materializations = [
            e
            for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_MATERIALIZATION and e.asset_key == AssetKey("account_classifier")
        ]
        assert len(materializations) == 1, "rank 0 reports once through Pipes"
        metadata = result.asset_materializations_for_node("account_classifier")[0].metadata
        for key in (
            "test_accuracy",
            "test_f1_weighted",
            "test_f1_macro",
            "samples_per_second",
            "steps",
            "mlflow_run_id",
            "per_class_test",
        ):
            assert key in metadata, key
        assert metadata["steps"].value == TINY_TRAINING["max_steps"]
        assert 0.0 <= metadata["test_f1_macro"].value <= 1.0

        gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["classifier_quality_gate"]
        assert gate.passed
        served = result.asset_materializations_for_node("served_classifier")[0].metadata

    adapter = newest_adapter(home)
    assert adapter.path == Path(metadata["path"].value)
    label_slots = adapter.label_slots()
    model = adapter.load_model()
    tokenizer = adapter.load_tokenizer()
    batch = tokenizer(
        ["party:스타벅스 강남점 | item:커피", "party:SK에너지 | item:주유"], return_tensors="pt", padding=True
    )
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    assert all(0 <= p < label_slots.used for p in predicted), "spare slots are never predicted"
    assert model.config.id2label[0] == label_slots.codes[0]
    assert not (home.storage / "_work" / "account_classifier").exists() or not any(
        (home.storage / "_work" / "account_classifier").iterdir()
    )

    client = mlflow.MlflowClient(tracking_uri=tracking_uri(home))
    run = client.get_run(metadata["mlflow_run_id"].value)
    assert run.info.status == "FINISHED"
    assert {"test_f1_macro", "test_accuracy"} <= set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "loss")) >= 1
    assert run.data.params["lora.r"] == "8"
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "confusion_matrix_test.png",
        "per_class_test.csv",
        "metrics.json",
        "adapter",
        "evaluation_report.md",
        "reliability_test.csv",
        "review_tradeoff_test.csv",
        "f1_by_band_test.csv",
    } <= artifacts
    assert {"test_ece", "review_threshold", "test_error_capture"} <= set(run.data.metrics)
    assert str(home.mlflow) in client.get_experiment(run.info.experiment_id).artifact_location

    for key in ("evaluation_report", "f1_by_band_test", "test_review_share", "test_ece", "confusion_matrix_test"):
        assert key in metadata or key in result.asset_materializations_for_node("account_classifier")[0].metadata, key
    report = metadata["evaluation_report"].value
    assert "Trade-off on test" in report and "F1 by frequency band" in report and "Calibration" in report
    baseline = result.asset_materializations_for_node("baseline_classifier")[0].metadata
    assert baseline["test_f1_macro"].value > 0.3, "TF-IDF on the demo's party/item text is a strong baseline"
    comparison = {e.check_name: e for e in result.get_asset_check_evaluations()}["classifier_beats_baseline"]
    assert comparison.severity.value == "WARN"
    assert comparison.passed == (metadata["test_f1_macro"].value > baseline["test_f1_macro"].value)

    versions = model_registry(home).versions()
    assert sorted(v.kind for v in versions) == ["adapter", "baseline", "ensemble", "precedent"], (
        "every candidate is a registry version"
    )
    assert all(v.dataset_version == versions[0].dataset_version and "valid_f1_macro" in v.figures for v in versions)
    champion = model_registry(home).resolve()
    assert (
        served["registry_version"].value == champion.registry_version and served["champion_kind"].value == champion.kind
    )
    best = max(v.figures["valid_accuracy"] for v in versions)
    assert champion.figures["valid_accuracy"] == best, (
        "the champion has the best valid accuracy (model_settings.selection_metric; all passed the 0.0 floor)"
    )
    challenger = [v for v in versions if "challenger" in v.aliases]
    assert len(challenger) == 1 and challenger[0].registry_version != champion.registry_version
    table = table_text(served["comparison"])
    assert (
        all(name in table for name in ("adapter ", "baseline ", "precedent ", "ensemble "))
        and "test_review_share" in table
        and "test_f1_tail" in table
    )
    for image in ("confusion_matrix_test", "reliability_test", "review_tradeoff_plot"):
        assert (
            served[image].value.startswith("![") and "](/logs/acctax_figures/served_classifier/" in served[image].value
        ), "plots are short image links the UI draws inline"
    assert (
        isinstance(served["confused_codes_test"].value, TableMetadataValue)
        or served["confused_codes_test"].value == "none"
    )
    assert "nan" not in table.lower() and served["valid_f1_macro"].value == significant(served["valid_f1_macro"].value)
    served_run = client.get_run(run.info.run_id)
    assert served_run.data.tags["acctax.champion"] == served["champion"].value
    assert {"adapter_valid_f1_macro", "baseline_valid_f1_macro", "ensemble_valid_f1_macro"} <= set(
        served_run.data.metrics
    )
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "served_classifier")}
    assert {
        "served_classifier/comparison.csv",
        "served_classifier/reliability_test.png",
        "served_classifier/confusion_matrix_test.png",
    } <= logged
    ensemble = result.asset_materializations_for_node("ensemble_classifier")[0].metadata
    weights = as_mapping(ensemble["weights"])
    assert set(weights) <= {"adapter", "baseline", "precedent"} and sum(weights.values()) == pytest.approx(
        1.0, abs=1e-3
    )
    assert "valid_accuracy" in table_text(ensemble["weight_search_valid"])


def predict(
    instance: DagsterInstance, month: str, target_accuracy: float = 0.9, fmt: str = "csv"
) -> ExecuteInProcessResult:
    config = {
        "ops": {"prediction_export": {"config": {"format": fmt}}},
        "resources": {
            "model_settings": {"config": {"review_target_accuracy": target_accuracy, "review_min_auto_rows": 5}}
        },
        **QUIET,
    }
    return defs.resolve_job_def("prediction_job").execute_in_process(
        instance=instance, partition_key=month, run_config=config, raise_on_error=False
    )


def test_predictions_on_a_labelled_month_are_served_by_the_champion(home: AcctaxHome) -> None:
    champion = model_registry(home).resolve()
    served = load_served(champion)
    with instance_for_test() as instance:
        result = predict(instance, "2024-03-01", target_accuracy=0.3)
    assert result.success, failure_text(result)
    metadata = result.asset_materializations_for_node("ledger_predictions")[0].metadata
    table = pd.read_parquet(home.storage / "ledger_predictions" / "2024-03-01.parquet")
    cleaned = pd.read_parquet(home.storage / "cleaned_ledger" / "2024-03-01.parquet")
    assert len(table) == len(cleaned) == metadata["rows"].value
    assert table[["source_file", "source_row"]].equals(
        cleaned[["source_file", "source_row"]].astype(table[["source_file", "source_row"]].dtypes)
    )
    assert (
        metadata["served_model"].value == champion.label
        and metadata["registry_version"].value == champion.registry_version
    )
    assert set(table["served_model"]) == {champion.label}
    test_accuracy = champion.figures["test_accuracy"]
    assert metadata["accuracy"].value >= test_accuracy - 0.05, (metadata["accuracy"].value, test_accuracy)
    assert metadata["accuracy"].value == pytest.approx(table["correct"].mean(), rel=1e-3)  # 4 significant digits
    assert (table["confidence"] >= table["top2_confidence"]).all() and (
        table["top2_confidence"] >= table["top3_confidence"]
    ).all()
    trained_codes = {served.label_slots.codes[i] for i in served.scorer.trained_ids}
    assert set(table["predicted_code"]) <= trained_codes, "only trained codes are proposed"

    valid = served.eval_rows.query("split == 'valid'")
    derived = review_threshold(valid["confidence"], valid["label"] == valid["predicted"], 0.3, 5)
    expected = derived.threshold if derived.reachable else 1.0
    assert metadata["review_threshold"].value == pytest.approx(expected, rel=1e-3)
    low = table["review_reason"] == "low_confidence"
    assert (table.loc[low, "confidence"] < derived.threshold).all() and (
        table.loc[~table["needs_review"], "confidence"] >= derived.threshold
    ).all()

    with instance_for_test() as instance:
        strict = predict(instance, "2024-03-01", target_accuracy=0.99)
    stricter = strict.asset_materializations_for_node("ledger_predictions")[0].metadata
    assert stricter["review_rows"].value >= metadata["review_rows"].value, "a stricter target never shrinks the queue"


def test_an_uncoded_month_gets_a_proposal_for_every_row_and_an_export(home: AcctaxHome) -> None:
    with instance_for_test() as instance:
        result = predict(instance, "2024-04-01", fmt="xlsx")
    assert result.success, failure_text(result)
    table = pd.read_parquet(home.storage / "ledger_predictions" / "2024-04-01.parquet")
    cleaned = pd.read_parquet(home.storage / "cleaned_ledger" / "2024-04-01.parquet")
    assert (
        len(table) == len(cleaned) > 250 and table["predicted_code"].notna().all() and table["true_code"].isna().all()
    )
    assert result.asset_materializations_for_node("ledger_predictions")[0].metadata["labelled_rows"].value == 0
    exported = pd.read_excel(home.exports / "account_proposals_2024-04.xlsx", dtype=str)
    raw = pd.read_parquet(home.storage / "raw_ledger" / "2024-04-01.parquet")
    assert len(exported) == len(raw) == 300, "every raw line is in the export, rejected ones included"
    assert set(exported["검토필요"]) <= {"Y", "N"} and exported["계정과목코드"].notna().sum() == len(table)
    assert exported["검토사유"].fillna("").str.startswith("rejected:").sum() == len(raw) - len(cleaned)
    assert set(exported["추천모델"].dropna()) == {model_registry(home).resolve().label}, (
        "the export names the proposing model"
    )


def test_moving_the_champion_alias_is_a_rollback_the_next_prediction_serves(home: AcctaxHome) -> None:
    registry = model_registry(home)
    before = registry.resolve()
    other = next(v for v in registry.versions() if v.registry_version != before.registry_version)
    try:
        assert cli.main(["champion", "--set", other.registry_version]) == 0
        with instance_for_test() as instance:
            result = predict(instance, "2024-04-01")
        assert result.success, failure_text(result)
        assert (
            result.asset_materializations_for_node("ledger_predictions")[0].metadata["served_model"].value
            == other.label
        )
        assert cli.main(["champion", "--set", "999"]) == 2, "an unknown version is refused"
    finally:
        registry.set_alias(CHAMPION, before.registry_version)
    assert registry.resolve().registry_version == before.registry_version


def test_predictions_refuse_an_adapter_whose_registry_no_longer_matches(home: AcctaxHome) -> None:
    path = home.label_slots
    original = path.read_text(encoding="utf-8")
    label_slots = LabelSlots.from_json(original)
    path.write_text(
        LabelSlots(label_slots.max_classes, tuple(reversed(label_slots.codes)), label_slots.names).to_json(),
        encoding="utf-8",
    )
    try:
        with instance_for_test() as instance:
            result = predict(instance, "2024-04-01")
    finally:
        path.write_text(original, encoding="utf-8")
    assert not result.success
    assert "does not match the current one" in failure_text(result) and "re-run training_job" in failure_text(result)


SHORT_TRAINING = {"max_steps": 2, "eval_steps": 2, "save_steps": 2}


def test_an_adapter_below_the_floor_is_a_failed_candidate_not_a_failed_job(home: AcctaxHome) -> None:
    with instance_for_test() as instance:
        result = train(instance, run_config(SHORT_TRAINING, min_f1=0.3, max_drop=1.0))
    assert result.success, failure_text(result)
    gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["classifier_quality_gate"]
    assert not gate.passed and "below the floor" in gate.description, "the failed gate is shown"
    served = result.asset_materializations_for_node("served_classifier")[0].metadata
    assert served["champion_kind"].value != "adapter" and "FAILED: test macro F1" in table_text(served["comparison"])
    assert model_registry(home).resolve().kind != "adapter"


def test_no_candidate_passing_fails_the_promotion_and_keeps_the_champion(home: AcctaxHome) -> None:
    before = model_registry(home).resolve()
    with instance_for_test() as instance:
        result = train(instance, run_config(SHORT_TRAINING, min_f1=0.99))
    assert not result.success
    message = failure_text(result)
    assert (
        "no candidate passed its quality gate" in message and "below the floor 0.9900" in message and "Fix:" in message
    )
    assert all(kind in message for kind in ("adapter ", "baseline ", "ensemble "))
    after = model_registry(home).resolve()
    assert (after.registry_version, after.path) == (before.registry_version, before.path), "nothing new is served"


def test_an_unusable_registry_store_fails_the_promotion_with_its_uri_and_the_fix(home: AcctaxHome) -> None:
    blocker = home.root / "not-a-folder"
    blocker.write_text("x")
    uri = f"sqlite:///{blocker}/mlflow.db"
    config = {
        "resources": {"model_registry": {"config": {"tracking_uri": uri}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    with instance_for_test() as instance:
        result = defs.resolve_job_def("training_job").execute_in_process(
            instance=instance, asset_selection=[AssetKey("served_classifier")], run_config=config, raise_on_error=False
        )
    assert not result.success
    message = failure_text(result)
    assert f"MLflow model registry at {uri}" in message and "Fix: make the store reachable" in message


def test_missing_base_model_fails_before_launch(home: AcctaxHome) -> None:
    with instance_for_test() as instance:
        config = run_config()
        config["resources"]["model_settings"]["config"]["base_model"] = str(home.root / "no-such-model")
        result = train(instance, config)
    assert not result.success
    assert "no-such-model" in failure_text(result) and "does not exist" in failure_text(result)
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY], (
        "a config error is not retried"
    )


def test_bf16_on_a_machine_without_gpu_fails_before_any_process_starts(home: AcctaxHome) -> None:
    """On CI (no NVIDIA driver) bf16=true is refused in the Dagster process: no retry, no training process."""
    if visible_gpus():
        pytest.skip("this machine has a GPU: bf16 is runnable here")
    logs = home.storage / "_work" / "account_classifier"
    before = set(logs.glob("*/train.log"))
    with instance_for_test() as instance:
        result = train(instance, run_config({"bf16": True}))
    assert not result.success
    assert "account_classifier not started: bf16=true needs a CUDA GPU" in failure_text(result)
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert set(logs.glob("*/train.log")) == before, "no training process was started"


def test_adapter_ref_reads_registry_and_metrics(home: AcctaxHome) -> None:
    adapter = newest_adapter(home)
    assert adapter.metrics()["test"]["f1_macro"] >= 0
    assert adapter.label_slots().max_classes == 260


def test_killed_training_is_retried_in_the_same_run_and_resumes_from_its_checkpoint(home: AcctaxHome) -> None:
    config = run_config({"max_steps": 40, "save_steps": 5, "eval_steps": 40, "seed": 7})
    with RankKiller(home.storage / "_work" / "account_classifier") as killer, instance_for_test() as instance:
        result = train(instance, config)
    assert killer.killed, "the training process was never seen with a checkpoint"
    assert result.success, failure_text(result)
    retries = [
        e
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY and e.step_key == "account_classifier"
    ]
    assert len(retries) == 1
    message = retries[0].event_specific_data.error.to_string()
    assert "Last lines of" in message and "resumes from the newest one" in message

    metadata = result.asset_materializations_for_node("account_classifier")[0].metadata
    assert "checkpoint-" in metadata["resumed_from"].value
    assert metadata["steps"].value == 40


def test_the_clerks_reviewed_export_comes_back_and_labels_the_month(home: AcctaxHome) -> None:
    reviewed = home.landing / "ledger_2024-04_검토완료.xlsx"
    try:
        with instance_for_test() as instance:
            assert predict(instance, "2024-04-01", fmt="xlsx").success
            answer = pd.read_excel(home.exports / "account_proposals_2024-04.xlsx", dtype=str)
            proposed = answer["계정과목코드"].notna()
            corrected = proposed & (answer["검토필요"] == "Y") & answer["대안계정코드2"].notna()
            answer.loc[corrected, "계정과목코드"] = answer.loc[corrected, "대안계정코드2"]
            answer.to_excel(reviewed, index=False)
            data = defs.resolve_job_def("ledger_data_job").execute_in_process(
                instance=instance, partition_key="2024-04-01", raise_on_error=False, run_config=QUIET
            )
            assert data.success, failure_text(data)
            assert "2024-04-01" in retraining.labelled_months(instance), "the retraining sensor counts the month"
            feedback = defs.resolve_job_def("feedback_job").execute_in_process(
                instance=instance, partition_key="2024-04-01", raise_on_error=False, run_config=QUIET
            )
            assert feedback.success, failure_text(feedback)
        metadata = data.asset_materializations_for_node("cleaned_ledger")[0].metadata
        cleaned = pd.read_parquet(home.storage / "cleaned_ledger" / "2024-04-01.parquet")
        assert cleaned["acct_code"].notna().all() and set(cleaned["source_file"]) == {reviewed.name}
        sources = cleaned["label_source"].value_counts().to_dict()
        assert sources.get("corrected", 0) == int(corrected.sum()) > 0
        assert sources.get("confirmed", 0) + sources.get("corrected", 0) + sources["unreviewed"] == len(cleaned)
        rejected = pd.read_parquet(home.storage / "rejected_ledger_rows" / "2024-04-01.parquet")
        originals = rejected[rejected["source_file"] == "ledger_2024-04.csv"]
        assert len(originals) == 300, "every original line is superseded or was rejected for its own reason"
        superseded = int((originals["reject_reason"] == "superseded").sum())
        assert superseded >= len(cleaned), "a line the original printed twice is superseded by the answer too"
        assert as_mapping(metadata["superseded_by_file"]) == {reviewed.name: superseded}
        assert "superseded" not in set(rejected.loc[rejected["source_file"] == reviewed.name, "reject_reason"])
        figures = feedback.asset_materializations_for_node("proposal_feedback")[0].metadata
        reviewed_rows = int((proposed & (answer["검토필요"] == "Y")).sum())
        assert figures["changed_share_reviewed"].value.endswith(f"({int(corrected.sum())} of {reviewed_rows})")
        assert figures["changed_share_auto"].value.startswith("0.0 %"), "the clerk changed no auto-accepted line"
    finally:
        reviewed.unlink(missing_ok=True)
