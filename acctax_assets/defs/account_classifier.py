"""`account_classifier`: a LoRA adapter trained by a DeepSpeed subprocess launched through Dagster Pipes.

The Dagster process never imports torch: it writes the typed training config, launches the `deepspeed`
launcher with PipesSubprocessClient (only global rank 0 reports back), and turns the child's report into
metadata. Checkpoints live in a work folder keyed by the config + a hash of the dataset's content, so a retry
of the same training (even after the datasets were re-materialized identically) resumes instead of starting over. MLflow: the parent owns the run (dagster-mlflow) and hands
its id to rank 0, which logs curves and metrics into it.
"""

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MetadataValue,
    Output,
    PipesSubprocessClient,
    ResourceParam,
    RetryPolicy,
    asset,
)
from pydantic import Field, ValidationError

from acctax_assets.defs.artifact_io_managers import SavedDataset, TrainedAdapter
from acctax_assets.defs.metadata_format import TOKENIZED_DATASET_VERSION, frame_table, mapping_table, readable
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.adapter.report import write_adapter_report
from acctax_assets.ml.data.base_model import check_base_model
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE
from acctax_assets.ml.serving.model_registry import redact_uri
from acctax_assets.ml.training.config import AttentionImplementation, LoraSettings, Quantization, TrainingConfig
from acctax_assets.ml.training.launch import (
    REFUSAL_FILE,
    check_machine,
    deepspeed_command,
    free_port,
    log_tail,
    logged_command,
    training_env,
    visible_gpus,
)

# A killed or crashed trainer (OOM, preempted node, lost rank) is retried in the same run and resumes from
# its newest checkpoint; configuration errors are raised with allow_retries=False and fail at once.
TRAINING_RETRIES = RetryPolicy(max_retries=2, delay=10)
# The instance limits this pool to one slot (dagster.yaml written by AcctaxHome.ensure): one training at a time.
TRAINING_POOL = "training"
TABLE_ROWS = 10


def _default(field: str, model: type = TrainingConfig) -> Any:
    """Defaults live in TrainingConfig/LoraSettings (with the ranges); the launchpad mirrors them."""
    return model.model_fields[field].default


class ClassifierConfig(Config):
    """Training knobs shown in the launchpad; ranges are validated by TrainingConfig before launch."""

    num_train_epochs: float = Field(
        default=_default("num_train_epochs"),
        description="Passes over the train split (the budget follows the data); the time cap may end training sooner",
    )
    max_minutes: float | None = Field(
        default=_default("max_minutes"),
        description="Wall-clock cap of the training loop in minutes (None: none); the default suits the demo job on "
        "a small CPU (benchmarks/README.md: training): raise it for an office's ledgers or on GPUs",
    )
    max_steps: int | None = Field(
        default=_default("max_steps"), description="Optimizer steps; replaces the epoch budget when set"
    )
    learning_rate: float = _default("learning_rate")
    per_device_batch_size: int = _default("per_device_batch_size")
    gradient_accumulation_steps: int = _default("gradient_accumulation_steps")
    evals_per_epoch: float = Field(
        default=_default("evals_per_epoch"),
        description="Valid evaluations per epoch (fewer when valid is large: at most ~10% of the training time)",
    )
    eval_steps: int | None = Field(
        default=_default("eval_steps"),
        description="Evaluate on valid every N steps; replaces evals_per_epoch when set (valid and test are always "
        "evaluated at the end)",
    )
    early_stopping_patience: int | None = Field(
        default=_default("early_stopping_patience"),
        description="Stop after N valid evaluations without a better macro F1 (None: never); the best one's "
        "weights are kept",
    )
    save_steps: int = _default("save_steps")
    warmup_steps: float = Field(
        default=_default("warmup_steps"), description="Steps, or a fraction of the step budget when < 1"
    )
    weight_decay: float = _default("weight_decay")
    class_weight_alpha: float = Field(
        default=_default("class_weight_alpha"), description="Class weight = (1/count)^alpha, clipped, mean 1"
    )
    class_weight_clip: float = _default("class_weight_clip")
    zero_stage: int = Field(
        default=_default("zero_stage"), description="DeepSpeed ZeRO stage (2 recommended with LoRA)"
    )
    num_ranks: int = Field(
        default=_default("num_ranks"), description="Processes: GPUs on a GPU node, CPU ranks otherwise"
    )
    hostfile: str | None = Field(
        default=_default("hostfile"),
        description="DeepSpeed hostfile for several nodes (README: multi-node); its slots replace num_ranks",
    )
    master_addr: str | None = Field(
        default=_default("master_addr"),
        description="Address of the hostfile's first host, where this run and rank 0 run",
    )
    bf16: bool | None = Field(default=_default("bf16"), description="None: bf16 on a GPU that supports it, fp32 on CPU")
    gradient_checkpointing: bool = Field(
        default=_default("gradient_checkpointing"),
        description="Recompute activations in backward: less GPU memory, ~1/3 more compute",
    )
    attn_implementation: AttentionImplementation = Field(
        default=_default("attn_implementation"), description="sdpa, eager, or flash_attention_2 (GPU + flash-attn)"
    )
    quantization: Quantization = Field(
        default=_default("quantization"), description="none, 4bit or 8bit base weights (QLoRA; CUDA GPU + bitsandbytes)"
    )
    seed: int = _default("seed")
    resume: bool = Field(
        default=_default("resume"), description="Resume from a checkpoint of the same config + dataset"
    )
    restart_on_corrupt_checkpoint: bool = _default("restart_on_corrupt_checkpoint")
    lora_r: int = _default("r", LoraSettings)
    lora_alpha: int = _default("alpha", LoraSettings)
    lora_dropout: float = _default("dropout", LoraSettings)
    lora_target_modules: list[str] | None = Field(default=None, description="Default: chosen per architecture")
    lora_layers: list[int] | None = Field(default=None, description="Only these layer indices (default all)")


def training_config(config: ClassifierConfig, base_model: str, dataset: SavedDataset) -> TrainingConfig:
    lora = LoraSettings(
        r=config.lora_r,
        alpha=config.lora_alpha,
        dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        layers_to_transform=config.lora_layers,
    )
    knobs = config.model_dump(exclude={"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_layers"})
    return TrainingConfig(
        base_model=base_model,
        dataset_dir=str(dataset.path),
        registry_path=str(dataset.path / LABEL_SLOTS_FILE),
        output_dir="",
        lora=lora,
        **knobs,
    )


def flat_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as MLflow params (`lora.r`)."""
    params: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            params.update(flat_params(value, f"{prefix}{key}."))
        else:
            params[f"{prefix}{key}"] = str(value)
    return params


def _per_class_shown(per_class: pd.DataFrame) -> pd.DataFrame:
    """The best and the weakest classes (all of them when few)."""
    ranked = per_class.sort_values(["f1", "support"], ascending=[False, False])
    return ranked if len(ranked) <= 2 * TABLE_ROWS else pd.concat([ranked.head(TABLE_ROWS), ranked.tail(TABLE_ROWS)])


@asset(
    group_name="ml",
    io_manager_key="adapter_io_manager",
    kinds={"pytorch", "deepspeed", "mlflow"},
    retry_policy=TRAINING_RETRIES,
    pool=TRAINING_POOL,
)
def account_classifier(
    context: AssetExecutionContext,
    config: ClassifierConfig,
    tokenized_dataset: SavedDataset,
    model_settings: ModelSettings,
    settings: LedgerSettings,
    pipes_subprocess_client: PipesSubprocessClient,
    mlflow: ResourceParam[Any],
) -> Output[TrainedAdapter]:
    """Fine-tunes the base model with LoRA on the tokenized splits; test metrics become asset metadata."""
    base_model = model_settings.base_model_path
    try:
        check_base_model(base_model)
        draft = training_config(config, base_model, tokenized_dataset)
        check_machine(draft, visible_gpus())
    except (AcctaxError, ValidationError) as exc:
        raise Failure(description=f"account_classifier not started: {exc}", allow_retries=False) from exc
    work = (
        settings.acctax_home.storage
        / "_work"
        / "account_classifier"
        / draft.fingerprint(tokenized_dataset.content_hash())
    )
    train = draft.model_copy(update={"output_dir": str(work)})
    config_path = train.write(work / "training_config.json")
    log_path = work / "train.log"
    refusal = work / REFUSAL_FILE
    refusal.unlink(missing_ok=True)

    # A retry in the same process finds the failed attempt's MLflow run ended; it records itself as a new run.
    run = mlflow.active_run() or mlflow.start_run(run_name=f"{context.run.run_id[:8]} retry {context.retry_number}")
    mlflow.log_params(flat_params(train.model_dump(exclude={"output_dir", "dataset_dir", "registry_path"})))
    env = training_env(train, os.environ)
    env.update({"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "MLFLOW_RUN_ID": run.info.run_id})
    launcher = deepspeed_command(train, config_path, free_port())
    command = logged_command(launcher, log_path)
    context.log.info(f"Launching: {' '.join(launcher)} (work dir {work})")
    try:
        result = pipes_subprocess_client.run(
            command=command, context=context, env=env, cwd=str(work)
        ).get_materialize_result()
    except Exception as exc:
        mlflow.end_run(status="FAILED")
        if refusal.exists():
            raise Failure(
                description=f"Training refused: {refusal.read_text(encoding='utf-8')}. Last lines of {log_path}:\n{log_tail(log_path)}",
                allow_retries=False,
            ) from exc
        raise Failure(
            description=(
                f"Training process failed: {exc}. Last lines of {log_path}:\n{log_tail(log_path)}\n"
                f"Checkpoints in {train.checkpoint_dir} are kept: a retry (RetryPolicy: {TRAINING_RETRIES.max_retries} in the same run) "
                "or re-materializing with the same config resumes from the newest one."
            )
        ) from exc

    adapter_dir = train.adapter_dir
    report = write_adapter_report(AdapterRef(adapter_dir), model_settings.review_policy())
    for path in report.files:
        mlflow.log_artifact(str(path))
    mlflow.log_artifacts(str(adapter_dir), artifact_path="adapter")
    mlflow.log_metrics(report.figures())
    evaluation = report.evaluation
    context.log.info(f"Review threshold: {evaluation.threshold.describe()}")
    experiment_id = run.info.experiment_id
    splits = tokenized_dataset.load()
    lora = {setting: "default" if value is None else value for setting, value in train.lora.model_dump().items()}
    metadata = readable(
        {
            **result.metadata,
            "classes_in_test": len(report.per_class),
            "train_rows": splits["train"].num_rows,
            "valid_rows": splits["valid"].num_rows,
            "test_rows": splits["test"].num_rows,
            "base_model": base_model,
            "lora": mapping_table(lora, "setting", "value"),
            "per_class_test": frame_table(_per_class_shown(report.per_class)),
            "evaluation_report": MetadataValue.md(evaluation.markdown()),
            "f1_by_band_test": frame_table(evaluation.bands),
            **report.figures(),
            "mlflow_run_id": run.info.run_id,
            "mlflow_run_url": MetadataValue.url(
                f"{mlflow.ui_url}/#/experiments/{experiment_id}/runs/{run.info.run_id}"
            ),
            "mlflow_ui": f"mlflow ui --backend-store-uri {redact_uri(mlflow.get_tracking_uri())} --port 5000",
            TOKENIZED_DATASET_VERSION: tokenized_dataset.path.name,
        }
    )
    mlflow.end_run()
    return Output(TrainedAdapter(source=adapter_dir, work_dir=work), metadata=metadata)
