"""Training entry point: LoRA fine-tuning of a sequence classifier on the tokenized ledger dataset.

Run by the DeepSpeed launcher, one process per rank:

    deepspeed --num_gpus N --master_port P --module acctax_assets.ml.train --config /path/config.json

It imports `dagster_pipes` only (never `dagster`): the Dagster process owns orchestration and the MLflow run, this
process owns every torch byte (DESIGN §4). Only global rank 0 opens Pipes, reports, and writes files; all ranks join
the collective steps (training, evaluation, the ZeRO-3 weight gather) so none waits on a missing peer (lesson 7).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deepspeed
import numpy as np
import torch
import torch.nn.functional as F
from accelerate import PartialState
from dagster_pipes import PipesContext, PipesEnvVarParamsLoader, open_dagster_pipes
from datasets import Dataset, DatasetDict, load_from_disk
from peft import LoraConfig, PeftModel, TaskType, get_peft_model, prepare_model_for_kbit_training
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BitsAndBytesConfig,
    DataCollatorWithPadding,
    EvalPrediction,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    set_seed,
)
from transformers.integrations import is_deepspeed_zero3_enabled
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import METRICS_FILE, TRAINED_CLASSES_FILE, TRAINING_CONFIG_FILE, grow_input_embeddings
from acctax_assets.ml.eval_outputs import EvalOutputs
from acctax_assets.ml.inference import MASKED_LOGIT, mask_untrained
from acctax_assets.ml.label_registry import REGISTRY_FILE, LabelRegistry
from acctax_assets.ml.launch import REFUSAL_FILE, check_base_model, threads_per_rank
from acctax_assets.ml.metrics import class_weights, classification_report
from acctax_assets.ml.serialization import TEXT_SPEC_FILE
from acctax_assets.ml.tokenization import load_dataset_tokenizer, load_tokenizer
from acctax_assets.ml.training_config import TrainingConfig
from acctax_assets.ml.vocabulary import added_token_ids, subtoken_ids

logger = logging.getLogger("acctax_assets.ml.train")

SPLITS = ("train", "valid", "test")


class TrainingError(AcctaxError):
    """The inputs of a training run are unusable (dataset, labels, base model architecture)."""


class CheckpointError(AcctaxError):
    """A checkpoint to resume from cannot be loaded."""


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in the launch; read from the launcher's environment."""

    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Ranks:
        return cls(rank=int(os.environ.get("RANK", "0")), world_size=int(os.environ.get("WORLD_SIZE", "1")))


class Reporter:
    """Progress and the final materialization: to Dagster Pipes when rank 0 runs under Pipes, else to stderr."""

    def __init__(self, pipes: PipesContext | None) -> None:
        self._pipes = pipes

    def info(self, message: str) -> None:
        logger.info(message)
        if self._pipes is not None:
            self._pipes.log.info(message)

    def warning(self, message: str) -> None:
        logger.warning(message)
        if self._pipes is not None:
            self._pipes.log.warning(message)

    def materialize(self, metadata: Mapping[str, float | int | str | bool]) -> None:
        if self._pipes is not None:
            self._pipes.report_asset_materialization(metadata=dict(metadata))


@contextmanager
def open_reporter(ranks: Ranks) -> Iterator[Reporter]:
    """Every rank inherits the Pipes environment; only global rank 0 may open it (else Dagster sees several results)."""
    if ranks.is_main and PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as pipes:
            yield Reporter(pipes)
    else:
        yield Reporter(None)


class MlflowCurves:
    """Writes metrics into the parent's existing MLflow run; never ends it (the Dagster run owns it, lesson 7)."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        # Imported here: MLflow is slow to import and unused unless the parent handed over a run.
        from mlflow import MlflowClient

        self._client = MlflowClient(tracking_uri)
        self._run_id = run_id

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MlflowCurves | None:
        run_id, uri = env.get("MLFLOW_RUN_ID"), env.get("MLFLOW_TRACKING_URI")
        return cls(uri, run_id) if run_id and uri else None

    def log(self, values: Mapping[str, Any], step: int) -> None:
        """Best effort: a busy MLflow store must not kill hours of training; the Pipes metadata carries the result."""
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException

        now = int(time.time() * 1000)
        metrics = [
            Metric(key=key, value=float(value), timestamp=now, step=step)
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        ]
        if not metrics:
            return
        try:
            self._client.log_batch(self._run_id, metrics=metrics)
        except MlflowException as error:
            logger.warning("could not log %d metrics at step %d to MLflow run %s: %s", len(metrics), step, self._run_id, error)


class ProgressCallback(TrainerCallback):
    """One readable line per log event on the main process (replaces the Trainer's print-based callback)."""

    def __init__(self, reporter: Reporter, samples_per_step: int, mlflow: MlflowCurves | None) -> None:
        self._reporter = reporter
        self._samples_per_step = samples_per_step
        self._mlflow = mlflow
        self._last_time = time.perf_counter()
        self._last_step = 0
        self.train_began = False
        self.start_step = 0
        self.start_tokens = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.train_began = True
        self.start_step = self._last_step = state.global_step
        self.start_tokens = state.num_input_tokens_seen
        self._last_time = time.perf_counter()
        if state.is_world_process_zero:
            self._reporter.info(f"training from step {state.global_step} to {state.max_steps}")

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        step = f"step {state.global_step}/{state.max_steps}"
        if "loss" in logs:
            now = time.perf_counter()
            elapsed = now - self._last_time
            rate = (state.global_step - self._last_step) * self._samples_per_step / elapsed if elapsed > 0 else 0.0
            self._last_time, self._last_step = now, state.global_step
            self._reporter.info(
                f"{step} loss={logs['loss']:.4g} lr={logs.get('learning_rate', 0.0):.2e} "
                f"samples/s={rate:.1f} epoch={logs.get('epoch', 0.0):.2f}"
            )
        elif "eval_loss" in logs:
            scores = " ".join(f"{key}={logs[key]:.4f}" for key in ("eval_loss", "eval_accuracy", "eval_f1_macro") if key in logs)
            self._reporter.info(f"{step} {scores}")
        elif "train_runtime" in logs:
            self._reporter.info(
                f"{step} training done in {logs['train_runtime']:.1f} s, "
                f"samples/s={logs.get('train_samples_per_second', 0.0):.1f}"
            )
        if self._mlflow is not None:
            self._mlflow.log(logs, state.global_step)


class WeightedLossTrainer(Trainer):
    """Class-weighted cross-entropy; classes the model cannot learn are masked out of loss and predictions."""

    # compute_loss returns a per-batch mean, so the Trainer must still divide it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, class_weight: torch.Tensor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_weight = class_weight
        self.untrained = class_weight == 0

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs["labels"]
        outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
        logits = mask_untrained(outputs["logits"], self.untrained)
        outputs["logits"] = logits
        weight = self.class_weight.to(logits.device)
        per_row = F.cross_entropy(logits.float(), labels, reduction="none")
        row_weight = weight[labels]
        # Weighted mean; a batch made only of untrained classes (possible in eval) contributes 0, not NaN.
        loss = (per_row * row_weight).sum() / row_weight.sum().clamp_min(torch.finfo(torch.float32).tiny)
        return (loss, outputs) if return_outputs else loss

    def _run_epoch(self, *args: Any, **kwargs: Any) -> None:
        # transformers 5 runs one more step after resuming from a checkpoint already at max_steps (checkpoint-21 of
        # 20 on every relaunch); a finished run must resume to evaluation and saving only.
        if self.state.global_step >= self.state.max_steps:
            self.control.should_training_stop = True
            return
        super()._run_epoch(*args, **kwargs)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="LoRA training of the account classifier (run under `deepspeed`).")
    parser.add_argument("--config", required=True, type=Path, help="TrainingConfig JSON written by the Dagster asset")
    # Appended by the DeepSpeed launcher; the rank itself is read from RANK/LOCAL_RANK.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=-1)
    return parser.parse_args(argv)


def load_config(path: Path) -> TrainingConfig:
    try:
        return TrainingConfig.read(path)
    except FileNotFoundError:
        raise TrainingError(f"training config {path} does not exist. Fix: pass the JSON the asset wrote with --config") from None
    except ValidationError as error:
        raise TrainingError(f"training config {path} is invalid: {error}") from None


def configure_threads(config: TrainingConfig) -> int:
    """Thread pool per rank, before any tensor work: oversubscribed cores made DeepSpeed 15x slower (DESIGN §4)."""
    threads = threads_per_rank(config)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    return threads


def configure_logging(ranks: Ranks) -> None:
    logging.basicConfig(
        level=logging.INFO if ranks.is_main else logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s rank{ranks.rank} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)


def load_splits(config: TrainingConfig, tokenizer: PreTrainedTokenizerBase, registry: LabelRegistry) -> DatasetDict:
    """The tokenized splits, cut to what the model consumes, with every label checked against the registry."""
    path = Path(config.dataset_dir)
    if not path.exists():
        raise TrainingError(f"tokenized dataset {path} does not exist. Fix: materialize tokenized_dataset first")
    if not (path / TEXT_SPEC_FILE).is_file():
        raise TrainingError(f"{path} lacks {TEXT_SPEC_FILE} (how rows became text). Fix: re-materialize ledger_dataset and tokenized_dataset")
    loaded = load_from_disk(str(path))
    if not isinstance(loaded, DatasetDict) or any(split not in loaded for split in SPLITS):
        found = list(loaded.keys()) if isinstance(loaded, DatasetDict) else type(loaded).__name__
        raise TrainingError(f"{path} must be a DatasetDict with splits {list(SPLITS)}; found {found}")
    columns = loaded["train"].column_names
    missing = [column for column in ("input_ids", "label") if column not in columns]
    if missing:
        raise TrainingError(f"{path} lacks columns {missing} (has {columns}). Fix: re-materialize tokenized_dataset")
    keep = [name for name in tokenizer.model_input_names if name in columns] + ["label"]
    dataset = DatasetDict({split: loaded[split].select_columns(keep) for split in SPLITS})
    for split in SPLITS:
        labels = np.asarray(dataset[split]["label"])
        if labels.size == 0:
            raise TrainingError(f"split {split!r} of {path} is empty; training needs rows in train, valid and test")
        if labels.min() < 0 or labels.max() >= registry.used:
            bad = sorted({int(x) for x in labels if x < 0 or x >= registry.used})[:10]
            raise TrainingError(
                f"split {split!r} has class ids {bad} outside the {registry.used} registered codes of {config.registry_path}. "
                "Fix: rebuild ledger_dataset and tokenized_dataset with the current label registry"
            )
    return dataset


def check_sequence_classifier(base_model: str) -> None:
    """The checkpoint's architecture must have an AutoModelForSequenceClassification class (decoders such as
    Qwen3/Llama do; vision or speech models do not), said before the model is built. Here rather than in the
    parent: reading transformers' model registry imports torch."""
    model_type = AutoConfig.from_pretrained(base_model, local_files_only=True).model_type
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise TrainingError(
            f"base model {base_model} is a {model_type!r} checkpoint, an architecture without a sequence-classification "
            "class in transformers. Fix: point base_model at a text model (e.g. a Qwen3, Llama or BERT checkpoint)"
        )


def linear_module_names(model: PreTrainedModel) -> list[str]:
    """Leaf names of the model's linear layers (`q_proj`, `gate_proj`, `query`, …): what LoRA can target."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)})


def check_target_modules(model: PreTrainedModel, targets: list[str]) -> None:
    """Every configured LoRA target must name modules of this model (PEFT matches `name` or `….name`); PEFT itself
    only fails when none matches, so a typo among several targets would silently train fewer layers."""
    names = [name for name, _ in model.named_modules()]
    missing = [target for target in targets if not any(name == target or name.endswith("." + target) for name in names)]
    if missing:
        raise TrainingError(
            f"LoRA target module(s) {missing} do not exist in {type(model).__name__}. "
            f"Its linear layers are {linear_module_names(model)}. Fix: set lora.target_modules to some of them"
        )


def default_target_modules(model: PreTrainedModel) -> list[str]:
    """LoRA targets when the config names none: attention query/value projections, by naming convention."""
    linear_names = set(linear_module_names(model))
    for pair in (["q_proj", "v_proj"], ["query", "value"]):
        if set(pair) <= linear_names:
            return pair
    model_type = getattr(model.config, "model_type", "")
    if model_type in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING:
        return list(TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING[model_type])
    raise TrainingError(
        f"no default LoRA target modules for model_type {model_type!r}. "
        f"Fix: set lora.target_modules in the training config to some of its linear layers: {sorted(linear_names)}"
    )


def classifier_head(model: PreTrainedModel, num_labels: int) -> tuple[str, torch.nn.Linear]:
    """The output projection of the classification head (`classifier` for BERT, `score` for Qwen/Llama)."""
    heads = [(name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.Linear) and module.out_features == num_labels]
    if not heads:
        raise TrainingError(f"{type(model).__name__} has no linear layer with {num_labels} outputs; it is not a sequence classifier")
    return heads[-1]


def silence_untrained_slots(head: torch.nn.Linear, untrained: torch.Tensor) -> None:
    """Zero the head rows of untrained classes and push their bias low.

    Their logits are masked in the loss, so these rows get no gradient and stay as set: the saved adapter then never
    predicts a spare slot even when a caller forgets the mask (heads without bias rely on trained_classes.json).
    """
    params = [head.weight] + ([head.bias] if head.bias is not None else [])
    with _gathered(params), torch.no_grad():
        rows = untrained.to(head.weight.device)
        head.weight[rows] = 0.0
        if head.bias is not None:
            head.bias[rows] = MASKED_LOGIT


def _gathered(params: list[torch.nn.Parameter]) -> AbstractContextManager[Any]:
    """Full parameters for an in-place edit: under ZeRO-3 they are sharded and must be gathered (rank 0 writes)."""
    if is_deepspeed_zero3_enabled():
        return deepspeed.zero.GatheredParameters(params, modifier_rank=0)
    return nullcontext()


def extend_embeddings(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, base_tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Room for the tokens the dataset's tokenizer added, each starting as the mean embedding of its base pieces.

    Works on any architecture through `get_input_embeddings()` (BERT `word_embeddings`, Llama/Qwen `embed_tokens`).
    Decoders often ship more embedding rows than tokenizer entries: those rows are reused, never cut away.
    Returns the new token ids (sorted), which the adapter trains.
    """
    added = added_token_ids(tokenizer, base_tokenizer)
    if not added:
        return []
    grow_input_embeddings(model, len(tokenizer))
    weight = model.get_input_embeddings().weight
    with _gathered([weight]), torch.no_grad():
        for word, index in added.items():
            pieces = subtoken_ids(word, base_tokenizer)
            if pieces:
                weight[index] = weight[pieces].mean(dim=0)
    return sorted(added.values())


def quantization_config(config: TrainingConfig, bf16: bool) -> BitsAndBytesConfig | None:
    """bitsandbytes settings for QLoRA: NF4 with double quantization (or LLM.int8), the classification head kept
    in full precision because it is trained (launch.check_machine made sure a GPU and bitsandbytes exist)."""
    heads = ["score", "classifier"]
    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=heads)
    if config.quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16,
            llm_int8_skip_modules=heads,
        )
    return None


def load_base_model(config: TrainingConfig, registry: LabelRegistry, bf16: bool) -> PreTrainedModel:
    """The checkpoint as a sequence classifier with a fresh head of the registry's size, in the configured
    precision, attention kernel and (QLoRA) quantization."""
    quantization = quantization_config(config, bf16)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            config.base_model,
            num_labels=registry.max_classes,
            id2label=registry.id2label,
            label2id=registry.label2id,
            problem_type="single_label_classification",
            # A checkpoint already fine-tuned for another label set gets a fresh head of the registry's size.
            ignore_mismatched_sizes=True,
            dtype=torch.bfloat16 if bf16 else torch.float32,
            attn_implementation=config.attn_implementation,
            quantization_config=quantization,
            # Quantized weights are placed at load time, each rank on its own GPU.
            device_map={"": PartialState().local_process_index} if quantization else None,
            local_files_only=True,
        )
    except ValueError as error:
        if config.attn_implementation in str(error):
            raise TrainingError(
                f"{config.base_model} cannot use attn_implementation={config.attn_implementation}: {error}. Fix: attn_implementation eager"
            ) from error
        raise
    if quantization is not None:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing, gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    return model


def build_model(
    config: TrainingConfig,
    registry: LabelRegistry,
    tokenizer: PreTrainedTokenizerBase,
    base_tokenizer: PreTrainedTokenizerBase,
    untrained: torch.Tensor,
    bf16: bool,
) -> PeftModel:
    model = load_base_model(config, registry, bf16)
    # Decoders pool the last non-pad token: the model must know the pad id the collator uses (EOS where absent).
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    head_name, head = classifier_head(model, registry.max_classes)
    silence_untrained_slots(head, untrained)
    head_module = head_name.split(".")[0]
    new_tokens = extend_embeddings(model, tokenizer, base_tokenizer)
    targets = config.lora.target_modules or default_target_modules(model)
    check_target_modules(model, targets)
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=targets,
        layers_to_transform=config.lora.layers_to_transform,
        # PEFT keeps `classifier` / `score` trainable for SEQ_CLS; any other head name must be listed.
        modules_to_save=None if head_module in ("classifier", "score") else [head_module],
        # Only the added words' embedding rows are trained and saved with the adapter (not the whole matrix).
        trainable_token_indices=new_tokens or None,
    )
    return get_peft_model(model, lora)


def deepspeed_config(zero_stage: int, bf16: bool) -> dict[str, Any]:
    """ZeRO config; "auto" values are filled from TrainingArguments so the two cannot disagree."""
    zero: dict[str, Any] = {"stage": zero_stage}
    if zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "train_batch_size": "auto",
        "gradient_clipping": "auto",
        "zero_optimization": zero,
        "bf16": {"enabled": bf16},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def use_bf16(config: TrainingConfig) -> bool:
    if config.bf16 is not None:
        return config.bf16
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def training_arguments(config: TrainingConfig, bf16: bool) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(config.checkpoint_dir),
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        # The final valid/test report follows training anyway: an eval scheduled at the last step would repeat it.
        eval_strategy="steps" if config.eval_steps < config.max_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_strategy="steps",
        logging_steps=max(1, min(50, config.max_steps // 20)),
        seed=config.seed,
        bf16=bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        # Non-reentrant checkpointing needs no input gradients, so frozen embeddings under LoRA work as they are.
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        use_cpu=not torch.cuda.is_available(),
        deepspeed=deepspeed_config(config.zero_stage, bf16) if config.use_deepspeed else None,
        # Each rank's loss is its own batch mean; averaging token counts across ranks doubled it with 2 ranks.
        average_tokens_across_devices=False,
        report_to="none",
        disable_tqdm=True,
        log_level="warning",
        dataloader_num_workers=0,
    )


def checkpoint_problem(checkpoint: Path, world_size: int, deepspeed_state: bool = True) -> str | None:
    """Why `checkpoint` cannot be resumed from, or None; every file is read so a damaged one shows up here."""
    state_file = checkpoint / "trainer_state.json"
    if not state_file.is_file():
        return "trainer_state.json is missing (the save was interrupted)"
    try:
        int(json.loads(state_file.read_text(encoding="utf-8"))["global_step"])
    except (ValueError, KeyError, TypeError) as error:
        return f"trainer_state.json is unreadable ({error})"
    if deepspeed_state:
        problem = _deepspeed_state_problem(checkpoint, world_size)
        if problem is not None:
            return problem
    for file in sorted(checkpoint.rglob("*")):
        try:
            if file.suffix == ".safetensors":
                load_file(file)
            elif file.suffix in (".pt", ".pth", ".bin"):
                # Our own checkpoint files; DeepSpeed pickles non-tensor objects, so weights_only cannot be used.
                torch.load(file, map_location="cpu", weights_only=False)
        except (OSError, RuntimeError, EOFError, SafetensorError, ValueError, pickle.UnpicklingError) as error:
            return f"{file.relative_to(checkpoint)} cannot be read ({type(error).__name__}: {error})"
    return None


def _deepspeed_state_problem(checkpoint: Path, world_size: int) -> str | None:
    latest = checkpoint / "latest"
    if not latest.is_file():
        return "the DeepSpeed 'latest' tag file is missing"
    tag_dir = checkpoint / latest.read_text(encoding="utf-8").strip()
    if not tag_dir.is_dir():
        return f"the DeepSpeed state folder {tag_dir.name} is missing"
    shards = list(tag_dir.glob("*optim_states.pt"))
    if shards and len(shards) != world_size:
        return (
            f"its ZeRO optimizer state is split over {len(shards)} ranks but this launch has {world_size} "
            f"(relaunch with num_ranks={len(shards)} to resume it)"
        )
    return None


def set_checkpoints_aside(checkpoint_dir: Path, reason: str) -> Path:
    """Move every checkpoint out of the Trainer's sight, so a fresh run never mixes with old steps."""
    target = checkpoint_dir.parent / f"checkpoints-{reason}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.mkdir(parents=True)
    for checkpoint in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        shutil.move(str(checkpoint), str(target / checkpoint.name))
    return target


def resume_checkpoint(config: TrainingConfig, state: PartialState, reporter: Reporter) -> Path | None:
    """The checkpoint to resume from, decided on rank 0 and shared, so every rank takes the same path."""
    decision: list[str | None] = [None]
    error: list[str | None] = [None]
    if state.is_main_process:
        newest = get_last_checkpoint(str(config.checkpoint_dir)) if config.checkpoint_dir.is_dir() else None
        if newest is not None and not config.resume:
            moved = set_checkpoints_aside(config.checkpoint_dir, "superseded")
            reporter.info(f"resume is off: moved existing checkpoints to {moved} and starting from the base model")
        elif newest is not None:
            problem = checkpoint_problem(Path(newest), state.num_processes, config.use_deepspeed)
            if problem is None:
                decision[0] = newest
            elif config.restart_on_corrupt_checkpoint:
                moved = set_checkpoints_aside(config.checkpoint_dir, "corrupt")
                reporter.warning(f"checkpoint {newest} cannot be loaded ({problem}); moved checkpoints to {moved} and starting over")
            else:
                error[0] = (
                    f"cannot resume from checkpoint {newest}: {problem}. Fix: delete {newest} (or all of "
                    f"{config.checkpoint_dir}) to start over, or set restart_on_corrupt_checkpoint=true"
                )
    if state.num_processes > 1:
        torch.distributed.broadcast_object_list(decision, src=0)
        torch.distributed.broadcast_object_list(error, src=0)
    if error[0] is not None:
        raise CheckpointError(error[0])
    return Path(decision[0]) if decision[0] is not None else None


def compute_metrics_for(registry: LabelRegistry) -> Callable[[EvalPrediction], dict[str, float]]:
    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        report = classification_report(prediction.label_ids, prediction.predictions.argmax(axis=1), registry)
        return {key: report[key] for key in ("accuracy", "f1_weighted", "f1_macro")}

    return compute_metrics


def probabilities_for(untrained: torch.Tensor) -> Callable[[torch.Tensor | tuple[torch.Tensor, ...], torch.Tensor], torch.Tensor]:
    """Class probabilities with untrained slots masked (they get 0), kept per row so the ensemble can mix them."""

    def probabilities(logits: torch.Tensor | tuple[torch.Tensor, ...], labels: torch.Tensor) -> torch.Tensor:
        scores = logits[0] if isinstance(logits, tuple) else logits
        return torch.softmax(mask_untrained(scores.float(), untrained), dim=-1)

    return probabilities


def evaluate_split(trainer: Trainer, dataset: Dataset, registry: LabelRegistry, split: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Predictions on one split (a collective: every rank calls it): the report, the labels and each row's class
    probabilities (calibration, the review threshold and the ensemble are derived from these)."""
    output = trainer.predict(dataset, metric_key_prefix=split)
    probabilities = np.asarray(output.predictions, dtype=np.float32)
    labels = output.label_ids.astype(np.int64)
    report = classification_report(labels, probabilities.argmax(axis=1), registry)
    report["loss"] = float(output.metrics[f"{split}_loss"])
    return report, labels, probabilities


def gather_adapter_state(trainer: Trainer, zero_stage: int) -> dict[str, torch.Tensor] | None:
    """Under ZeRO-3 the LoRA weights are sharded: gather them on every rank (collective). Else read in place."""
    trainer.accelerator.wait_for_everyone()
    if zero_stage == 3:
        return trainer.model_wrapped._zero3_consolidated_16bit_state_dict(exclude_frozen_parameters=True)
    return None


def write_adapter(
    trainer: Trainer,
    state_dict: dict[str, torch.Tensor] | None,
    tokenizer: PreTrainedTokenizerBase,
    config: TrainingConfig,
    counts: np.ndarray,
    registry: LabelRegistry,
    metrics: dict[str, Any],
    eval_outputs: EvalOutputs,
) -> None:
    """Main process only: the adapter folder is built beside the old one and swapped in, never seen half-written."""
    adapter_dir = config.adapter_dir
    staging = adapter_dir.with_name(f"{adapter_dir.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    # The added tokens' rows travel as trainable-token weights; the resized embedding matrix itself is not saved.
    trainer.model.save_pretrained(str(staging), state_dict=state_dict, save_embedding_layers=False)
    weights_file = staging / "adapter_model.safetensors"
    saved = load_file(weights_file) if weights_file.is_file() else {}
    if not saved or any(tensor.numel() == 0 for tensor in saved.values()):
        # ZeRO-3 can hand PEFT still-partitioned (empty) parameters; such an adapter must never replace a good one.
        raise TrainingError(f"the adapter written to {staging} is empty or has empty tensors; not publishing it to {adapter_dir}")
    tokenizer.save_pretrained(str(staging))
    shutil.copyfile(config.registry_path, staging / REGISTRY_FILE)
    config.write(staging / TRAINING_CONFIG_FILE)
    trained_ids = [int(i) for i in np.flatnonzero(counts)]
    shutil.copyfile(Path(config.dataset_dir) / TEXT_SPEC_FILE, staging / TEXT_SPEC_FILE)
    (staging / TRAINED_CLASSES_FILE).write_text(
        json.dumps(
            {"class_ids": trained_ids, "codes": [registry.codes[i] for i in trained_ids], "counts": [int(counts[i]) for i in trained_ids]},
            ensure_ascii=False, indent=2,
        ),
        encoding="utf-8",
    )
    (staging / METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    eval_outputs.save(staging)
    if adapter_dir.exists():
        retired = adapter_dir.with_name(f"{adapter_dir.name}.old-{os.getpid()}")
        adapter_dir.rename(retired)
        staging.rename(adapter_dir)
        shutil.rmtree(retired)
    else:
        staging.rename(adapter_dir)


def peak_memory_gb() -> float:
    """This rank's peak memory: allocated CUDA memory on a GPU, the process's peak resident set on CPU."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def last_logged_loss(log_history: list[dict[str, Any]]) -> float:
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(losses[-1]) if losses else float("nan")


def run(config: TrainingConfig, ranks: Ranks, reporter: Reporter, started: float) -> dict[str, Any]:
    """Train, evaluate, save; returns the flat metadata for the materialization (meaningful on rank 0)."""
    check_base_model(config.base_model)
    check_sequence_classifier(config.base_model)
    registry = LabelRegistry.from_json(Path(config.registry_path).read_text(encoding="utf-8"))
    base_tokenizer = load_tokenizer(config.base_model)
    tokenizer = load_dataset_tokenizer(config.dataset_dir, config.base_model)
    dataset = load_splits(config, tokenizer, registry)
    counts = np.bincount(np.asarray(dataset["train"]["label"]), minlength=registry.max_classes)
    weights = torch.tensor(class_weights(counts, config.class_weight_alpha, config.class_weight_clip), dtype=torch.float32)
    untrained = weights == 0
    trained_ids = [int(i) for i in np.flatnonzero(counts)]

    bf16 = use_bf16(config)
    args = training_arguments(config, bf16)  # initialises the process group; must precede the ZeRO-3 model load
    state = PartialState()
    # On CPU, Accelerate starts torch.distributed itself; DeepSpeed must adopt that group before ZeRO-3's zero.Init
    # (inside from_pretrained), else it assumes one rank and rejects the batch size.
    if config.use_deepspeed:
        deepspeed.init_distributed()
    if ranks.world_size != config.num_ranks:
        reporter.warning(f"config asks for {config.num_ranks} ranks but the launcher started {ranks.world_size}")
    resume_from = resume_checkpoint(config, state, reporter)
    if resume_from is not None:
        reporter.info(f"resuming from {resume_from}")

    set_seed(config.seed)  # the new head and the LoRA matrices are drawn here, before the Trainer seeds anything
    model = build_model(config, registry, tokenizer, base_tokenizer, untrained, bf16)
    reporter.info(
        f"base model {config.base_model}: {len(trained_ids)} trained classes of {registry.used} codes "
        f"({registry.max_classes} slots), {len(dataset['train'])} train rows, "
        f"{len(added_token_ids(tokenizer, base_tokenizer))} tokens added to the base vocabulary, ZeRO-{config.zero_stage}, "
        f"{ranks.world_size} rank(s) x {torch.get_num_threads()} threads, {'bf16' if bf16 else 'fp32'}"
    )
    mlflow = MlflowCurves.from_env(os.environ) if ranks.is_main else None
    progress = ProgressCallback(
        reporter, config.per_device_batch_size * config.gradient_accumulation_steps * ranks.world_size, mlflow
    )
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=dataset["train"],
        eval_dataset=dataset["valid"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics_for(registry),
        preprocess_logits_for_metrics=probabilities_for(untrained),
        callbacks=[progress],
        class_weight=weights,
    )
    trainer.remove_callback(PrinterCallback)

    try:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except Exception as error:
        if resume_from is not None and not progress.train_began:
            raise CheckpointError(
                f"could not resume from checkpoint {resume_from}: {type(error).__name__}: {error}. "
                f"Fix: delete {resume_from} to start over, or set restart_on_corrupt_checkpoint=true"
            ) from error
        raise

    adapter_state = gather_adapter_state(trainer, config.zero_stage if config.use_deepspeed else 0)
    evaluated = {split: evaluate_split(trainer, dataset[split], registry, split) for split in ("valid", "test")}
    reports = {split: report for split, (report, _, _) in evaluated.items()}
    steps_this_launch = trainer.state.global_step - progress.start_step
    train_loss = output.training_loss if steps_this_launch > 0 else last_logged_loss(trainer.state.log_history)
    runtime = float(output.metrics.get("train_runtime", 0.0))
    tokens_this_launch = trainer.state.num_input_tokens_seen - progress.start_tokens
    train = {
        "steps": trainer.state.global_step,
        "steps_this_launch": steps_this_launch,
        "train_loss": float(train_loss),
        "samples_per_second": float(output.metrics.get("train_samples_per_second", 0.0)),
        "train_runtime_seconds": runtime,
        "tokens_per_second": tokens_this_launch / runtime if runtime > 0 else 0.0,
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "peak_memory_gb": peak_memory_gb(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "num_ranks": ranks.world_size,
        "zero_stage": config.zero_stage,
        "bf16": bf16,
        "resumed_from": str(resume_from) if resume_from else None,
    }
    metrics = {**reports, "train": train, "log_history": trainer.state.log_history}
    if state.is_main_process:
        outputs = EvalOutputs(
            labels={split: labels for split, (_, labels, _) in evaluated.items()},
            probabilities={split: probs for split, (_, _, probs) in evaluated.items()},
        )
        write_adapter(trainer, adapter_state, tokenizer, config, counts, registry, metrics, outputs)
        reporter.info(
            f"adapter saved to {config.adapter_dir}: test accuracy={reports['test']['accuracy']:.4f} "
            f"f1_weighted={reports['test']['f1_weighted']:.4f} f1_macro={reports['test']['f1_macro']:.4f}"
        )
        if mlflow is not None:
            mlflow.log(
                {f"{split}_{key}": reports[split][key] for split in reports for key in ("accuracy", "f1_weighted", "f1_macro")},
                trainer.state.global_step,
            )
    state.wait_for_everyone()
    return {
        "test_accuracy": reports["test"]["accuracy"],
        "test_f1_weighted": reports["test"]["f1_weighted"],
        "test_f1_macro": reports["test"]["f1_macro"],
        "valid_f1_macro": reports["valid"]["f1_macro"],
        "steps": train["steps"],
        "train_loss": train["train_loss"],
        "samples_per_second": train["samples_per_second"],
        "tokens_per_second": train["tokens_per_second"],
        "peak_memory_gb": train["peak_memory_gb"],
        "wall_seconds": train["wall_seconds"],
        "num_ranks": ranks.world_size,
        "zero_stage": config.zero_stage,
        "bf16": bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "attn_implementation": config.attn_implementation,
        "quantization": config.quantization,
        "base_model": config.base_model,
        "adapter_dir": str(config.adapter_dir),
        "resumed_from": train["resumed_from"] or "none",
    }


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    ranks = Ranks.from_env()
    configure_logging(ranks)
    config = load_config(args.config)
    configure_threads(config)
    with open_reporter(ranks) as reporter:
        try:
            metadata = run(config, ranks, reporter, started)
        except AcctaxError as error:
            # Our own checks: deterministic, so the parent must fail the step instead of retrying it.
            if ranks.is_main:
                Path(config.output_dir, REFUSAL_FILE).write_text(f"{type(error).__name__}: {error}", encoding="utf-8")
            raise
        if ranks.is_main:
            reporter.materialize(metadata)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
