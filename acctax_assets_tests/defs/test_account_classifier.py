"""account_classifier's launchpad config: mapped onto the validated TrainingConfig, with a checkpoint fingerprint
that follows the content, not the dataset's folder."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from acctax_assets.defs.account_classifier import ClassifierConfig, flat_params, training_config
from acctax_assets.defs.artifact_io_managers import SavedDataset
from acctax_assets.ml.training.config import TrainingConfig


def test_launchpad_config_maps_onto_the_validated_training_config(tmp_path: Path) -> None:
    dataset = SavedDataset(tmp_path / "tokenized")
    config = training_config(ClassifierConfig(lora_r=4, lora_layers=[4, 5]), "/models/base", dataset)
    assert config.lora.r == 4 and config.lora.layers_to_transform == [4, 5]
    assert config.max_steps is None, "the budget is in epochs and minutes; max_steps is an explicit override"
    for field in ("num_train_epochs", "max_minutes", "evals_per_epoch", "eval_steps", "early_stopping_patience"):
        assert getattr(config, field) == TrainingConfig.model_fields[field].default, field
    assert config.registry_path.endswith("tokenized/label_registry.json")
    assert flat_params({"lora": {"r": 4}, "seed": 1}) == {"lora.r": "4", "seed": "1"}
    with pytest.raises(ValidationError, match="zero_stage"):
        training_config(ClassifierConfig(zero_stage=4), "/models/base", dataset)
    other = training_config(ClassifierConfig(seed=1), "/models/base", dataset)
    assert config.fingerprint("v1") != other.fingerprint("v1") and config.fingerprint("v1") != config.fingerprint("v2")
    moved = training_config(
        ClassifierConfig(lora_r=4, lora_layers=[4, 5]), "/models/base", SavedDataset(tmp_path / "elsewhere")
    )
    assert moved.fingerprint("v1") == config.fingerprint("v1"), "same content elsewhere resumes the same checkpoints"


def test_the_launchpad_sets_the_budget_or_an_explicit_step_count(tmp_path: Path) -> None:
    dataset = SavedDataset(tmp_path / "tokenized")
    budget = training_config(
        ClassifierConfig(num_train_epochs=3.0, max_minutes=None, early_stopping_patience=None), "/models/base", dataset
    )
    assert (budget.num_train_epochs, budget.max_minutes, budget.early_stopping_patience) == (3.0, None, None)
    assert budget.step_budget(train_rows=1000, valid_rows=100, world_size=1).max_steps == 96
    steps = training_config(ClassifierConfig(max_steps=12, eval_steps=6), "/models/base", dataset)
    assert steps.step_budget(train_rows=1000, valid_rows=100, world_size=1).max_steps == 12
    with pytest.raises(ValidationError, match="max_minutes"):
        training_config(ClassifierConfig(max_minutes=-1.0), "/models/base", dataset)
