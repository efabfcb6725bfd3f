"""Decoder checkpoints (Qwen3, Llama) as the office runs them, in miniature: built locally, loaded offline like
any local checkpoint, padded with EOS where the tokenizer has no pad token, pooled on the last real token, and
with a bias-free `score` head whose untrained slots are never proposed."""

import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from dagster import DagsterEventType, ExecuteInProcessResult, instance_for_test
from datasets import load_from_disk
from transformers import AutoModelForSequenceClassification

from acctax_assets import demo
from acctax_assets.definitions import defs
from acctax_assets.defs.ml_resources import tracking_uri
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.adapter.masking import mask_untrained
from acctax_assets.ml.data.base_model import TOKENIZER_FILES, BaseModelError, check_base_model
from acctax_assets.ml.data.tokenization import load_tokenizer
from acctax_assets.ml.evaluation.metrics import chance_accuracy
from acctax_assets.ml.serving.predictions import Predictions
from acctax_assets.ml.training.errors import TrainingError
from acctax_assets.ml.training.miniature import ARCHITECTURES, build_miniature, demo_texts, main
from acctax_assets.ml.training.model import (
    check_sequence_classifier,
    check_target_modules,
    classifier_head,
    default_target_modules,
    silence_untrained_slots,
)
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import failure_text
from acctax_assets_tests.support.training_runs import TINY_TRAINING, RankKiller
from acctax_assets_tests.support.training_runs import run_config as tiny_run_config

SLOTS = 6
UNTRAINED = torch.tensor([False, False, True, False, True, True])


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return demo_texts(rows=400)


@pytest.fixture(scope="module")
def miniatures(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> Callable[[str], Path]:
    """Each architecture's miniature, built once per module on first use."""
    root = tmp_path_factory.mktemp("miniatures")

    @functools.cache
    def built(arch: str) -> Path:
        return build_miniature(arch, root / arch, texts, vocab_size=1500)

    return built


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def miniature(request: pytest.FixtureRequest, miniatures: Callable[[str], Path]) -> Path:
    return miniatures(request.param)


def load_classifier(path: Path) -> torch.nn.Module:
    """The base model as the trainer (training.model) loads it: a fresh head of the registry's size, pad id from the tokenizer."""
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=SLOTS, ignore_mismatched_sizes=True, local_files_only=True
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = load_tokenizer(str(path)).pad_token_id
    return model.eval()


def test_saved_like_a_local_checkpoint(miniature: Path) -> None:
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in miniature.iterdir()
    }
    config = json.loads((miniature / "config.json").read_text())
    assert config["num_hidden_layers"] == 2 and config["model_type"] == miniature.name
    has_pad = ARCHITECTURES[miniature.name].pad is not None
    assert (config.get("pad_token_id") is not None) == has_pad, "like the real ones: Qwen3 has a pad token, Llama none"


def test_missing_pad_token_pads_with_eos(miniature: Path) -> None:
    tokenizer = load_tokenizer(str(miniature))
    assert tokenizer.pad_token_id is not None
    if ARCHITECTURES[miniature.name].pad is None:
        assert tokenizer.pad_token == tokenizer.eos_token
    ids = tokenizer(["party:스타벅스 강남점 | item:커피"])["input_ids"][0]
    assert tokenizer.pad_token_id not in ids and tokenizer.eos_token_id not in ids, "no special token inside the text"


def test_a_padded_batch_scores_each_row_as_alone(miniature: Path, texts: list[str]) -> None:
    """Sequence classification pools the last non-pad token: padding a short row to a long one's length must not
    change its logits."""
    tokenizer, model = load_tokenizer(str(miniature)), load_classifier(miniature)
    rows = sorted(texts[:6], key=len)
    with torch.no_grad():
        batch = model(**tokenizer(rows, padding=True, return_tensors="pt")).logits
        alone = torch.cat([model(**tokenizer([row], return_tensors="pt")).logits for row in rows])
    lengths = [len(ids) for ids in tokenizer(rows)["input_ids"]]
    assert len(set(lengths)) > 1, "the rows must differ in length for this test to mean anything"
    torch.testing.assert_close(batch, alone, atol=1e-4, rtol=1e-4)


def test_bias_free_score_head_and_lora_targets_found_by_architecture(miniature: Path) -> None:
    model = load_classifier(miniature)
    name, head = classifier_head(model, SLOTS)
    assert name == "score" and head.bias is None
    assert default_target_modules(model) == ["q_proj", "v_proj"]


def test_untrained_slots_of_a_bias_free_head_are_never_proposed(miniature: Path, texts: list[str]) -> None:
    tokenizer, model = load_tokenizer(str(miniature)), load_classifier(miniature)
    _, head = classifier_head(model, SLOTS)
    silence_untrained_slots(head, UNTRAINED)
    assert torch.count_nonzero(head.weight[UNTRAINED]) == 0
    with torch.no_grad():
        logits = model(**tokenizer(texts[:32], padding=True, return_tensors="pt")).logits
    probabilities = torch.softmax(mask_untrained(logits, UNTRAINED), dim=-1).numpy()
    assert probabilities[:, UNTRAINED.numpy()].max() < 1e-6
    trained_ids = np.flatnonzero(~UNTRAINED.numpy())
    proposals = Predictions.top(probabilities, trained_ids, seconds=0.0)
    assert set(np.unique(proposals.ids)) <= set(trained_ids.tolist())


def test_command_line_builds_both(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--rows", "200", "--vocab-size", "800"]) == 0
    for arch in ARCHITECTURES:
        model = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / arch), local_files_only=True)
        assert isinstance(model, ARCHITECTURES[arch].model_class)


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> AcctaxHome:
    """Three labelled demo months through the data layer, on a home the training runs below share."""
    root = tmp_path_factory.mktemp("decoder-home") / "acctax"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCTAX_HOME", str(root))
        home = AcctaxHome(root).ensure()
        demo.main(["--start", "2024-01", "--end", "2024-03", "--rows-per-month", "300", "--out", str(home.landing)])
        with instance_for_test() as instance:
            for month in ("2024-01-01", "2024-02-01", "2024-03-01"):
                assert (
                    defs.resolve_job_def("ledger_data_job")
                    .execute_in_process(instance=instance, partition_key=month)
                    .success
                )
    return home


# One option real GPU runs use, per architecture, so both are exercised on CPU without another run.
OPTIONS = {"llama": {"gradient_checkpointing": True}, "qwen3": {"attn_implementation": "eager"}}
DECODER_TRAINING = {
    **TINY_TRAINING,
    "max_steps": 30,
    "eval_steps": 30,
    "save_steps": 10,
    "learning_rate": 5e-3,
    "num_ranks": 2,
    "zero_stage": 2,
}


def decoder_run_config(miniature: Path, **classifier: object) -> dict:
    config = tiny_run_config({**DECODER_TRAINING, **classifier})
    config["resources"]["model_settings"]["config"]["base_model"] = str(miniature)
    return config


def run_training(home: AcctaxHome, config: dict) -> ExecuteInProcessResult:
    with instance_for_test() as instance:
        return defs.resolve_job_def("training_job").execute_in_process(
            instance=instance, run_config=config, raise_on_error=False
        )


@pytest.mark.slow
def test_training_job_on_a_decoder_with_two_cpu_ranks_and_zero2(
    landed: AcctaxHome, miniature: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path in miniature: the real training_job with `base_model` pointing at the checkpoint,
    the DeepSpeed launcher starting 2 CPU ranks under ZeRO-2; it learns, curves reach MLflow, and the adapter
    reloads and proposes trained slots only."""
    monkeypatch.setenv("ACCTAX_HOME", str(landed.root))
    monkeypatch.setenv("DAGSTER_HOME", str(landed.dagster_home))
    options = OPTIONS[miniature.name]
    result = run_training(landed, decoder_run_config(miniature, **options))
    assert result.success, failure_text(result)
    metadata = {
        key: value.value
        for key, value in result.asset_materializations_for_node("account_classifier")[0].metadata.items()
    }
    assert metadata["base_model"] == str(miniature) and metadata["num_ranks"] == 2 and metadata["zero_stage"] == 2
    assert all(metadata[key] == value for key, value in options.items()), "the option reached the trainer"
    assert metadata["steps"] == 30 and metadata["tokens_per_second"] > 0 and metadata["peak_memory_gb"] > 0
    tokenized = Path(result.asset_materializations_for_node("tokenized_dataset")[0].metadata["path"].value)
    splits = load_from_disk(str(tokenized))
    chance = chance_accuracy(splits["train"]["label"], splits["test"]["label"])
    assert metadata["test_accuracy"] > 2 * chance, (
        f"the adapter learned: accuracy {metadata['test_accuracy']:.3f} vs chance {chance:.3f}"
    )

    client = mlflow.MlflowClient(tracking_uri=tracking_uri(landed))
    losses = client.get_metric_history(metadata["mlflow_run_id"], "loss")
    assert len(losses) >= 3 and losses[-1].value < losses[0].value, "the loss curve is in MLflow and falls"
    # Metadata rounds scores to 4 significant digits; MLflow keeps them whole.
    assert client.get_run(metadata["mlflow_run_id"]).data.metrics["test_f1_macro"] == pytest.approx(
        metadata["test_f1_macro"], rel=1e-3
    )

    adapter = AdapterRef(Path(metadata["path"]))
    model, tokenizer = adapter.load_model(), adapter.load_tokenizer()
    assert (
        type(model.base_model.model if hasattr(model, "base_model") else model).__name__
        == ARCHITECTURES[miniature.name].model_class.__name__
    )
    with torch.no_grad():
        predicted = model(
            **tokenizer(
                ["party:스타벅스 강남점 | item:커피", "party:SK에너지 | item:주유 외"],
                padding=True,
                return_tensors="pt",
            )
        ).logits.argmax(-1)
    assert all(0 <= p < adapter.label_slots().used for p in predicted.tolist()), (
        "spare slots of the bias-free head are never predicted"
    )


@pytest.mark.slow
def test_a_killed_rank_of_a_decoder_is_retried_and_resumes(
    landed: AcctaxHome, miniatures: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Llama (no pad token of its own) on 2 ranks: rank 1 is killed after the first checkpoint; the launcher takes
    rank 0 down, Dagster retries the step, and the retry resumes from that checkpoint with the ZeRO-2 state."""
    monkeypatch.setenv("ACCTAX_HOME", str(landed.root))
    monkeypatch.setenv("DAGSTER_HOME", str(landed.dagster_home))
    config = decoder_run_config(miniatures("llama"), max_steps=24, save_steps=4, eval_steps=24, seed=5)
    with RankKiller(landed.storage / "_work" / "account_classifier", local_rank=1) as killer:
        result = run_training(landed, config)
    assert killer.killed, "rank 1 was never seen with a checkpoint"
    assert result.success, failure_text(result)
    assert len([e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]) == 1
    metadata = result.asset_materializations_for_node("account_classifier")[0].metadata
    assert "checkpoint-" in metadata["resumed_from"].value and metadata["steps"].value == 24


@pytest.mark.slow
def test_a_lora_target_that_does_not_exist_is_named_with_the_modules_that_do(
    landed: AcctaxHome, miniatures: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused by the trainer (only it loads the model) and not retried: the same config would fail again."""
    monkeypatch.setenv("ACCTAX_HOME", str(landed.root))
    monkeypatch.setenv("DAGSTER_HOME", str(landed.dagster_home))
    config = decoder_run_config(miniatures("qwen3"), num_ranks=1, lora_target_modules=["q_proj", "qkv_proj"])
    result = run_training(landed, config)
    assert not result.success
    text = failure_text(result)
    assert (
        "Training refused: TrainingError: LoRA target module(s) ['qkv_proj'] do not exist in Qwen3ForSequenceClassification"
        in text
    )
    assert "'down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj'" in text and "Fix: set lora.target_modules" in text
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]


def test_target_modules_are_checked_against_the_model(miniature: Path) -> None:
    model = load_classifier(miniature)
    check_target_modules(model, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    with pytest.raises(
        TrainingError, match=r"\['query'\] do not exist .*linear layers are \['down_proj', 'gate_proj', 'k_proj'"
    ):
        check_target_modules(model, ["q_proj", "query"])


def test_a_tokenizer_without_pad_or_eos_is_refused(tmp_path: Path, miniatures: Callable[[str], Path]) -> None:
    copy = tmp_path / "no-eos"
    shutil.copytree(miniatures("llama"), copy)
    settings = json.loads((copy / "tokenizer_config.json").read_text())
    settings.pop("eos_token", None)
    settings.pop("pad_token", None)
    (copy / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(BaseModelError, match="neither a pad nor an eos token.*Fix: set pad_token"):
        load_tokenizer(str(copy))


def test_a_checkpoint_without_a_tokenizer_is_refused_before_training(tmp_path: Path, miniature: Path) -> None:
    copy = tmp_path / "no-tokenizer"
    shutil.copytree(miniature, copy)
    for name in TOKENIZER_FILES:
        (copy / name).unlink(missing_ok=True)
    with pytest.raises(BaseModelError, match="has no tokenizer .*Fix: copy the tokenizer files"):
        check_base_model(str(copy))
    check_base_model(str(miniature))


def test_an_architecture_without_a_sequence_classifier_is_named(tmp_path: Path, miniature: Path) -> None:
    copy = tmp_path / "vision"
    shutil.copytree(miniature, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "model_type": "vit"}))
    with pytest.raises(
        TrainingError, match="'vit' checkpoint, an architecture without a sequence-classification class"
    ):
        check_sequence_classifier(str(copy))
    check_sequence_classifier(str(miniature))
