"""Training faults, kept cheap (no training step runs): training windows that cannot train, a class with one row,
label overflow, a damaged label registry, configuration errors that must fail before any process starts, and a
corrupt checkpoint. Each goes through training_job on the months of the template home, except the checkpoint,
which exercises the trainer's resume decision directly."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult

from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.defs.metadata_format import as_mapping
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.paths import AcctaxHome
from acctax_assets.versioned_dirs import VersionedDirs
from acctax_assets_tests.faults.harness import STRATIFIED, TEMPLATE_CODES
from acctax_assets_tests.support.dagster_runs import JANUARY, failure_text, run_job, stored

FEBRUARY, MARCH = "2024-02-01", "2024-03-01"


def build_dataset(instance: DagsterInstance, run_config: dict[str, Any] | None = None) -> ExecuteInProcessResult:
    return run_job(instance, "training_job", assets=["ledger_dataset"], run_config=run_config)


def assert_nothing_published(home: AcctaxHome) -> None:
    assert VersionedDirs(home.storage / "ledger_dataset").current() is None


@pytest.mark.parametrize(
    ("months", "problem"),
    [
        pytest.param((), "no labelled rows in the training window", id="no month materialized"),
        pytest.param((MARCH,), "no labelled rows in the training window", id="only an uncoded month"),
        pytest.param((FEBRUARY,), "only one account code (81100)", id="a single account code"),
        pytest.param(
            (JANUARY, FEBRUARY, MARCH),
            "the temporal split needs 3 labelled months (test_months=1 + valid_months=1 + at least 1 for train), "
            "there are 2: ['2024-01', '2024-02']",
            id="too few labelled months for the temporal split (an uncoded month is none)",
        ),
    ],
)
def test_a_window_that_cannot_train_fails_naming_its_months(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None], months: tuple[str, ...], problem: str
) -> None:
    """ledger_dataset refuses to build, names the months it looked at, and registers no code."""
    restore(*months)
    result = build_dataset(instance)
    assert not result.success
    message = failure_text(result)
    assert f"ledger_dataset over months {[m[:7] for m in months]}" in message and problem in message, message
    assert_nothing_published(home)
    assert not (home.label_slots).exists()


def test_a_class_with_one_row_goes_to_train_and_no_row_is_lost(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None]
) -> None:
    """A code with one row is trained on and reported as train-only; every labelled row is in exactly one split
    (stratified: one labelled month)."""
    restore(JANUARY, MARCH)
    result = build_dataset(instance, STRATIFIED)
    assert result.success, failure_text(result)
    metadata = result.asset_materializations_for_node("ledger_dataset")[0].metadata
    assert metadata["train_only_classes"].value == "83000"
    assert as_mapping(metadata["leakage_removed"]) == {"valid": 0, "test": 0}
    splits = SavedDataset(Path(metadata["path"].value)).load()
    assert "83000" in splits["train"]["code"]
    rows = [(f, r) for split in splits.values() for f, r in zip(split["source_file"], split["source_row"], strict=True)]
    features = stored(home, "ledger_features")
    labelled = features.loc[features["acct_code"].notna()]
    assert len(rows) == len(set(rows)) == sum(TEMPLATE_CODES[JANUARY].values())
    assert set(rows) == set(zip(labelled["source_file"], labelled["source_row"], strict=True))


@pytest.mark.parametrize(
    ("registered", "problem"),
    [
        pytest.param((), "0 registered + 3 new account codes exceed max_classes=2", id="first dataset"),
        pytest.param(
            ("81100", "82200"), "2 registered + 1 new account codes exceed max_classes=2", id="registry already full"
        ),
    ],
)
def test_label_overflow_fails_naming_the_fix_and_keeps_the_registry(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None], registered: tuple[str, ...], problem: str
) -> None:
    """More codes than head slots: a clear error with the fix, and the registry on disk is left as it was."""
    restore(JANUARY)
    path = home.label_slots
    if registered:
        LabelSlots(max_classes=2).with_codes(registered).save(path)
    before = path.read_bytes() if registered else None
    result = build_dataset(instance, {**STRATIFIED, "resources": {"model_settings": {"config": {"max_classes": 2}}}})
    assert not result.success
    message = failure_text(result)
    assert problem in message and "Fix: raise max_classes" in message, message
    assert (path.read_bytes() if path.exists() else None) == before
    assert_nothing_published(home)


REGISTRY_TEXT = '{"max_classes": 260, "codes": ["81100", "82200"], "names": {}}'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(REGISTRY_TEXT[:30], id="truncated JSON"),
        pytest.param(REGISTRY_TEXT.replace('"82200"', '"81100"'), id="a code listed twice"),
        pytest.param(REGISTRY_TEXT.replace("260", "10"), id="head size changed"),
    ],
)
def test_a_damaged_label_registry_fails_naming_the_file_and_the_fix(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None], text: str
) -> None:
    """The registry decides every class id: when it cannot be trusted, ledger_dataset stops and says which file and
    what to do, and leaves the file alone for inspection."""
    restore(JANUARY)
    path = home.label_slots
    path.write_text(text, encoding="utf-8")
    result = build_dataset(instance)
    assert not result.success
    message = failure_text(result)
    assert str(path) in message and "Fix:" in message, message
    assert path.read_text(encoding="utf-8") == text
    assert_nothing_published(home)


@dataclass(frozen=True)
class Misconfigured:
    """A launchpad mistake: classifier config, a base model path built in the test home, and the phrase to expect."""

    problem: str
    ops: dict[str, Any] | None = None
    base_model: Callable[[Path], Path] | None = None


def plain_file(root: Path) -> Path:
    path = root / "model.safetensors"
    path.write_bytes(b"weights")
    return path


def folder_without_config(root: Path) -> Path:
    path = root / "model"
    path.mkdir()
    (path / "model.safetensors").write_bytes(b"weights")
    return path


MISCONFIGURED = {
    "base model does not exist": Misconfigured("does not exist", base_model=lambda root: root / "no-such-model"),
    "base model is a file": Misconfigured("is a file, not a checkpoint directory", base_model=plain_file),
    "base model without config.json": Misconfigured("has no config.json", base_model=folder_without_config),
    "ZeRO stage 4": Misconfigured("zero_stage", ops={"zero_stage": 4}),
    "zero steps": Misconfigured("max_steps", ops={"max_steps": 0}),
    "LoRA rank 0": Misconfigured("greater than or equal to 1", ops={"lora_r": 0}),
}


@pytest.mark.parametrize("case", MISCONFIGURED.values(), ids=MISCONFIGURED.keys())
def test_a_configuration_error_fails_before_any_training_process_starts(
    tokenized_home: AcctaxHome, instance: DagsterInstance, case: Misconfigured
) -> None:
    """account_classifier checks the base model and the typed config in the Dagster process: the step fails at
    once (no retry), names the problem, and no work folder, checkpoint or adapter version appears."""
    home = tokenized_home
    run_config: dict[str, Any] = {"ops": {"account_classifier": {"config": case.ops or {}}}}
    if case.base_model is not None:
        run_config["resources"] = {"model_settings": {"config": {"base_model": str(case.base_model(home.root))}}}
    result = run_job(instance, "training_job", assets=["account_classifier"], run_config=run_config)
    assert not result.success
    message = failure_text(result)
    assert "account_classifier not started" in message and case.problem in message, message
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert not (home.storage / "_work").exists()
    assert not (home.storage / "account_classifier").exists()


def corrupt_checkpoint(tmp_path: Path, restart: bool) -> tuple[TrainingConfig, Path]:
    """A training config whose work folder holds a DeepSpeed checkpoint with its optimizer shard cut by a crash."""
    config = TrainingConfig(
        base_model=str(tmp_path / "model"),
        dataset_dir=str(tmp_path / "dataset"),
        registry_path=str(tmp_path / LABEL_SLOTS_FILE),
        output_dir=str(tmp_path / "work"),
        restart_on_corrupt_checkpoint=restart,
    )
    checkpoint = config.checkpoint_dir / "checkpoint-10"
    (checkpoint / "global_step10").mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 10}))
    (checkpoint / "latest").write_text("global_step10")
    (checkpoint / "global_step10" / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"PK\x03\x04 cut")
    return config, checkpoint


RANK_0 = SimpleNamespace(is_main_process=True, num_processes=1)


def test_a_corrupt_checkpoint_is_an_error_naming_it_and_both_fixes(tmp_path: Path) -> None:
    """By default, resuming from an unreadable checkpoint fails (the launch is not retried into the same wall) and
    deletes nothing."""
    from acctax_assets.ml.training.checkpoints import CheckpointError, resume_checkpoint
    from acctax_assets.ml.training.reporting import Reporter

    config, checkpoint = corrupt_checkpoint(tmp_path, restart=False)
    with pytest.raises(CheckpointError) as error:
        resume_checkpoint(config, RANK_0, Reporter(None))
    message = str(error.value)
    assert str(checkpoint) in message and "optim_states.pt cannot be read" in message, message
    assert "Fix: delete" in message and "restart_on_corrupt_checkpoint=true" in message
    assert checkpoint.is_dir()


def test_a_corrupt_checkpoint_is_set_aside_when_configured(tmp_path: Path) -> None:
    """With restart_on_corrupt_checkpoint the checkpoints are moved aside, kept for inspection, and training starts
    from the base model."""
    from acctax_assets.ml.training.checkpoints import resume_checkpoint
    from acctax_assets.ml.training.reporting import Reporter

    config, _ = corrupt_checkpoint(tmp_path, restart=True)
    assert resume_checkpoint(config, RANK_0, Reporter(None)) is None
    assert not list(config.checkpoint_dir.iterdir())
    assert [p.name for p in Path(config.output_dir).glob("checkpoints-corrupt-*/*")] == ["checkpoint-10"]


def test_an_interrupted_save_is_set_aside_and_the_newest_complete_checkpoint_resumed(tmp_path: Path) -> None:
    """A rank killed while the Trainer saved leaves a checkpoint without trainer_state.json (written last): the
    relaunch moves it aside, keeps it, and resumes from the complete checkpoint before it instead of failing."""
    from acctax_assets.ml.training.checkpoints import resume_checkpoint
    from acctax_assets.ml.training.reporting import Reporter

    config, complete = corrupt_checkpoint(tmp_path, restart=False)
    (complete / "global_step10" / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt").unlink()
    interrupted = config.checkpoint_dir / "checkpoint-20"
    (interrupted / "global_step20").mkdir(parents=True)
    (interrupted / "latest").write_text("global_step20")
    assert resume_checkpoint(config, RANK_0, Reporter(None)) == complete
    assert [p.name for p in config.checkpoint_dir.iterdir()] == ["checkpoint-10"]
    assert [p.name for p in Path(config.output_dir).glob("checkpoints-interrupted-*/*")] == ["checkpoint-20"]
