"""The model that trains: the base checkpoint as a sequence classifier (optionally quantized), its spare class
slots silenced, its embeddings grown for the dataset's added words, wrapped in LoRA. Apart from the loop so the
model can be built and checked in tests without launching a training."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import deepspeed
import torch
from accelerate import PartialState
from peft import LoraConfig, PeftModel, TaskType, get_peft_model, prepare_model_for_kbit_training
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BitsAndBytesConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.integrations import is_deepspeed_zero3_enabled
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

from acctax_assets.ml.adapter import grow_input_embeddings
from acctax_assets.ml.adapter.masking import MASKED_LOGIT
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.vocabulary import added_token_ids, subtoken_ids
from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.ml.training.errors import TrainingError


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
    return sorted(
        {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    )


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
    heads = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module.out_features == num_labels
    ]
    if not heads:
        raise TrainingError(
            f"{type(model).__name__} has no linear layer with {num_labels} outputs; it is not a sequence classifier"
        )
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


def extend_embeddings(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, base_tokenizer: PreTrainedTokenizerBase
) -> list[int]:
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


def load_base_model(config: TrainingConfig, label_slots: LabelSlots, bf16: bool) -> PreTrainedModel:
    """The checkpoint as a sequence classifier with a fresh head of one output per label slot, in the configured
    precision, attention kernel and (QLoRA) quantization."""
    quantization = quantization_config(config, bf16)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            config.base_model,
            num_labels=label_slots.max_classes,
            id2label=label_slots.id2label,
            label2id=label_slots.label2id,
            problem_type="single_label_classification",
            # A checkpoint already fine-tuned for another label set gets a fresh head of one output per label slot.
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
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    return model


def build_model(
    config: TrainingConfig,
    label_slots: LabelSlots,
    tokenizer: PreTrainedTokenizerBase,
    base_tokenizer: PreTrainedTokenizerBase,
    untrained: torch.Tensor,
    bf16: bool,
) -> PeftModel:
    """The LoRA-wrapped classifier, its head and embeddings prepared before PEFT freezes the base weights."""
    model = load_base_model(config, label_slots, bf16)
    # Decoders pool the last non-pad token: the model must know the pad id the collator uses (EOS where absent).
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    head_name, head = classifier_head(model, label_slots.max_classes)
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
