"""Helpers the Dagster asset uses to start the DeepSpeed training process.

They import neither Dagster nor torch: the Dagster process only builds the command and environment, and every
torch/CUDA byte lives in the child (DESIGN §4).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.training_config import TrainingConfig

TRAIN_MODULE = "acctax_assets.ml.train"


# Files of which at least one holds a checkpoint's tokenizer (fast, slow, WordPiece, SentencePiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


class BaseModelError(AcctaxError):
    """The configured base model is not a usable local checkpoint directory."""


def deepspeed_command(config: TrainingConfig, config_path: Path, master_port: int) -> list[str]:
    """The launcher command line; the `deepspeed` script next to this interpreter keeps the same venv."""
    launcher = Path(sys.executable).with_name("deepspeed")
    if not launcher.exists():
        raise AcctaxError(
            f"DeepSpeed launcher not found at {launcher}. Fix: install deepspeed into this environment "
            "together with the pinned torch (`pip install deepspeed torch==<pinned>`)"
        )
    if config.hostfile:
        if not Path(config.hostfile).is_file():
            raise AcctaxError(f"DeepSpeed hostfile {config.hostfile} does not exist. Fix: write one `host slots=N` line per node, or unset hostfile")
        topology = ["--hostfile", config.hostfile, "--master_addr", str(config.master_addr)]
    else:
        topology = ["--num_gpus", str(config.num_ranks)]
    return [
        str(launcher),
        *topology,
        "--master_port",
        str(master_port),
        "--module",
        TRAIN_MODULE,
        "--config",
        str(Path(config_path).resolve()),
    ]


def logged_command(command: list[str], log_path: Path) -> list[str]:
    """`command` under the supervisor (acctax_assets.ml.supervise): its output also goes to `log_path`, and an
    interrupt (Dagster Pipes sends SIGINT to the process it started) reaches the launcher's whole process group,
    so no DeepSpeed rank keeps training after the run was stopped."""
    return [sys.executable, "-m", "acctax_assets.ml.supervise", str(log_path), "--", *command]


def threads_per_rank(config: TrainingConfig) -> int:
    """Torch/OpenMP threads for each rank: oversubscribed cores made DeepSpeed 15x slower (DESIGN §4)."""
    if config.torch_threads is not None:
        return config.torch_threads
    return max(1, _usable_cores() // config.num_ranks)


def training_env(config: TrainingConfig, base_env: Mapping[str, str]) -> dict[str, str]:
    """Environment for the launcher and its ranks: offline Hugging Face, one thread pool per rank, unbuffered logs."""
    threads = str(threads_per_rank(config))
    env = dict(base_env)
    env.update(
        {
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def free_port() -> int:
    """A TCP port free right now for the ranks' rendezvous (two trainings on one host must not share one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_base_model(path: str) -> None:
    """Fail in the parent, before any process starts, when the base model cannot be loaded offline."""
    directory = Path(path)
    if not directory.exists():
        raise BaseModelError(
            f"base model directory {directory} does not exist. Fix: set base_model to a local checkpoint directory "
            "(models are never downloaded; HF_HUB_OFFLINE=1)"
        )
    if not directory.is_dir():
        raise BaseModelError(f"base model {directory} is a file, not a checkpoint directory. Fix: point base_model at its folder")
    if not (directory / "config.json").is_file():
        raise BaseModelError(
            f"base model directory {directory} has no config.json, so it is not a transformers checkpoint. "
            "Fix: point base_model at the folder that holds config.json and the weights"
        )
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise BaseModelError(
            f"base model directory {directory} has no tokenizer (none of {list(TOKENIZER_FILES)}). "
            "Fix: copy the tokenizer files of the same checkpoint into it (tokenizer.save_pretrained)"
        )


def _usable_cores() -> int:
    """Cores this process may run on (cgroup/affinity aware, unlike os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
