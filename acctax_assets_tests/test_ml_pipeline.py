"""The ML layer end to end on a real Dagster instance: dataset → tokenized → LoRA adapter trained by the real
`deepspeed` launcher (CPU, ZeRO-2) through Pipes, with MLflow tracking and the quality gate."""

import threading
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import torch
from dagster import AssetKey, DagsterEventType, DagsterInstance, ExecuteInProcessResult, instance_for_test

from acctax_assets import demo
from acctax_assets.definitions import defs
from acctax_assets.defs.ml_resources import EXPERIMENT, tracking_uri
from acctax_assets.ml.adapter import AdapterRef, accepted_adapter
from acctax_assets.paths import AcctaxHome

pytestmark = pytest.mark.slow

TINY_TRAINING = {"max_steps": 12, "eval_steps": 6, "save_steps": 6, "per_device_batch_size": 16, "learning_rate": 2e-3}


def run_config(classifier: dict | None = None, min_f1: float = 0.0) -> dict:
    return {
        "ops": {"account_classifier": {"config": {**TINY_TRAINING, **(classifier or {})}}},
        "resources": {"model_settings": {"config": {"min_f1_macro": min_f1}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }


def train(instance: DagsterInstance, config: dict) -> ExecuteInProcessResult:
    return defs.resolve_job_def("training_job").execute_in_process(instance=instance, run_config=config, raise_on_error=False)


def failure_text(result: ExecuteInProcessResult) -> str:
    return "\n".join(e.event_specific_data.error.to_string() for e in result.all_events if e.event_type_value == "STEP_FAILURE")


@pytest.fixture(scope="module")
def landed_home(tmp_path_factory: pytest.TempPathFactory) -> AcctaxHome:
    root = tmp_path_factory.mktemp("ml") / "acctax"
    home = AcctaxHome(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCTAX_HOME", str(root))
        home.ensure()
        demo.main(["--start", "2024-01", "--end", "2024-03", "--rows-per-month", "300", "--out", str(home.landing)])
        job = defs.resolve_job_def("ledger_data_job")
        with instance_for_test() as instance:
            for month in ("2024-01-01", "2024-02-01", "2024-03-01"):
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

        materializations = [
            e for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_MATERIALIZATION and e.asset_key == AssetKey("account_classifier")
        ]
        assert len(materializations) == 1, "rank 0 reports once through Pipes"
        metadata = result.asset_materializations_for_node("account_classifier")[0].metadata
        for key in ("test_accuracy", "test_f1_weighted", "test_f1_macro", "samples_per_second", "steps", "mlflow_run_id", "per_class_test"):
            assert key in metadata, key
        assert metadata["steps"].value == TINY_TRAINING["max_steps"]
        assert 0.0 <= metadata["test_f1_macro"].value <= 1.0

        gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["classifier_quality_gate"]
        assert gate.passed

    adapter = accepted_adapter(home.storage / "account_classifier")
    assert adapter is not None and adapter.path == Path(metadata["path"].value)
    registry = adapter.registry()
    model = adapter.load_model()
    tokenizer = adapter.load_tokenizer()
    batch = tokenizer(["party:스타벅스 강남점 | item:커피", "party:SK에너지 | item:주유"], return_tensors="pt", padding=True)
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    assert all(0 <= p < registry.used for p in predicted), "spare slots are never predicted"
    assert model.config.id2label[0] == registry.codes[0]
    assert not (home.storage / "_work" / "account_classifier").exists() or not any((home.storage / "_work" / "account_classifier").iterdir())

    client = mlflow.MlflowClient(tracking_uri=tracking_uri(home))
    run = client.get_run(metadata["mlflow_run_id"].value)
    assert run.info.status == "FINISHED"
    assert {"test_f1_macro", "test_accuracy"} <= set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "loss")) >= 1
    assert run.data.params["lora.r"] == "8"
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix_test.png", "per_class_test.csv", "metrics.json", "adapter"} <= artifacts
    assert str(home.mlflow) in client.get_experiment(run.info.experiment_id).artifact_location


def test_quality_gate_blocks_a_model_below_the_floor(home: AcctaxHome) -> None:
    before = accepted_adapter(home.storage / "account_classifier")
    with instance_for_test() as instance:
        result = train(instance, run_config({"max_steps": 2, "eval_steps": 2, "save_steps": 2}, min_f1=0.99))
    assert not result.success
    gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["classifier_quality_gate"]
    assert not gate.passed and "below the floor" in gate.description
    assert accepted_adapter(home.storage / "account_classifier") == before


def test_missing_base_model_fails_before_launch(home: AcctaxHome) -> None:
    with instance_for_test() as instance:
        config = run_config()
        config["resources"]["model_settings"]["config"]["base_model"] = str(home.root / "no-such-model")
        result = train(instance, config)
    assert not result.success
    assert "no-such-model" in failure_text(result) and "does not exist" in failure_text(result)


def test_adapter_ref_reads_registry_and_metrics(home: AcctaxHome) -> None:
    adapter = accepted_adapter(home.storage / "account_classifier")
    assert isinstance(adapter, AdapterRef)
    assert adapter.metrics()["test"]["f1_macro"] >= 0
    assert adapter.registry().max_classes == 260


def test_killed_training_fails_with_the_child_log_and_the_retry_resumes(home: AcctaxHome) -> None:
    config = run_config({"max_steps": 40, "save_steps": 5, "eval_steps": 40, "seed": 7})
    work_root = home.storage / "_work" / "account_classifier"
    killed: list[int] = []

    def kill_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            for checkpoint in work_root.glob("*/checkpoints/checkpoint-*"):
                if (checkpoint / "trainer_state.json").exists():
                    for process in psutil.process_iter(["cmdline"]):
                        if "acctax_assets.ml.train" in " ".join(process.info["cmdline"] or []) and "--local_rank" in " ".join(process.info["cmdline"] or []):
                            process.kill()
                            killed.append(process.pid)
                    break
            time.sleep(0.5)

    killer = threading.Thread(target=kill_after_first_checkpoint)
    killer.start()
    with instance_for_test() as instance:
        first = train(instance, config)
    killer.join()
    assert killed, "the training process was never seen with a checkpoint"
    assert not first.success
    message = failure_text(first)
    assert "Last lines of" in message and "resumes from the newest one" in message

    with instance_for_test() as instance:
        retry = train(instance, config)
    assert retry.success, failure_text(retry)
    metadata = retry.asset_materializations_for_node("account_classifier")[0].metadata
    assert "checkpoint-" in metadata["resumed_from"].value
    assert metadata["steps"].value == 40
