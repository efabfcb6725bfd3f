"""Helpers the Dagster asset uses to start the DeepSpeed training process.

They import neither Dagster nor torch: the Dagster process only builds the command and environment, and every
torch/CUDA byte lives in the child (ARCHITECTURE.md §4).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.training.config import TrainingConfig

TRAIN_MODULE = "acctax_assets.ml.training"


# Written by rank 0 into the work dir when one of our checks refuses the run (a bad target module, a corrupt
# checkpoint, a dataset that does not match the label slots): the parent then fails without retrying.
REFUSAL_FILE = "refused.txt"
LOG_TAIL_LINES = 40


class MachineError(AcctaxError):
    """The training config asks for hardware or packages this machine does not have."""


# Torch threads of a CPU rank (threads_per_rank says why one).
CPU_THREADS_PER_RANK = 1

# bfloat16 tensor cores start with Ampere (compute capability 8.0).
BF16_COMPUTE_CAPABILITY = 8.0


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: float


def visible_gpus(env: Mapping[str, str] | None = None) -> list[Gpu]:
    """The NVIDIA GPUs the ranks will see, read with `nvidia-smi`: asking torch would initialise CUDA in the Dagster process.

    CUDA_VISIBLE_DEVICES narrows the list as CUDA would: empty or "-1" hides every GPU, indices pick some.
    """
    env = os.environ if env is None else env
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listed = subprocess.run(
            [smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in listed.splitlines():
        name, _, capability = line.rpartition(",")
        try:
            gpus.append(Gpu(name.strip(), float(capability)))
        except ValueError:
            continue
    return _narrowed(gpus, env.get("CUDA_VISIBLE_DEVICES"))


def _narrowed(gpus: list[Gpu], visible: str | None) -> list[Gpu]:
    if visible is None:
        return gpus
    picked = []
    for item in visible.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) >= len(gpus):
            break  # CUDA stops at the first invalid entry ("-1" hides everything)
        picked.append(gpus[int(item)])
    return picked


def check_machine(config: TrainingConfig, gpus: list[Gpu]) -> None:
    """Fail before any process starts when the config needs what this machine lacks (a GPU, bf16, bitsandbytes,
    flash-attn, as many GPUs as ranks), each with the setting that fixes it."""
    where = ", ".join(f"{gpu.name} (compute capability {gpu.compute_capability})" for gpu in gpus) or "no NVIDIA GPU"
    if config.bf16:
        if not gpus:
            raise MachineError(
                f"bf16=true needs a CUDA GPU with bfloat16 (Ampere or newer); this machine has {where}. Fix: bf16 null (auto) or false"
            )
        old = [gpu for gpu in gpus if gpu.compute_capability < BF16_COMPUTE_CAPABILITY]
        if old:
            raise MachineError(
                f"bf16=true but {old[0].name} (compute capability {old[0].compute_capability}) has no bfloat16 (needs {BF16_COMPUTE_CAPABILITY}+). "
                "Fix: bf16 null (auto: fp32 here) or false"
            )
    if config.quantization != "none":
        if not gpus:
            raise MachineError(
                f"quantization={config.quantization} (bitsandbytes QLoRA) needs a CUDA GPU; this machine has {where}. Fix: quantization none"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise MachineError(
                f"quantization={config.quantization} needs the bitsandbytes package. Fix: pip install bitsandbytes, or quantization none"
            )
    if config.attn_implementation == "flash_attention_2":
        if not gpus:
            raise MachineError(
                f"attn_implementation=flash_attention_2 needs a CUDA GPU; this machine has {where}. Fix: attn_implementation sdpa"
            )
        if importlib.util.find_spec("flash_attn") is None:
            raise MachineError(
                "attn_implementation=flash_attention_2 needs the flash-attn package. Fix: pip install flash-attn, or attn_implementation sdpa"
            )
    if gpus and not config.hostfile and config.num_ranks > len(gpus):
        raise MachineError(
            f"num_ranks={config.num_ranks} but this node has {len(gpus)} visible GPU(s): {where}. Fix: num_ranks {len(gpus)}"
        )


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
            raise AcctaxError(
                f"DeepSpeed hostfile {config.hostfile} does not exist. Fix: write one `host slots=N` line per node, or unset hostfile"
            )
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
    """`command` under the supervisor (acctax_assets.ml.training.supervise): its output also goes to `log_path`, and an
    interrupt (Dagster Pipes sends SIGINT to the process it started) reaches the launcher's whole process group,
    so no DeepSpeed rank keeps training after the run was stopped."""
    return [sys.executable, "-m", "acctax_assets.ml.training.supervise", str(log_path), "--", *command]


def threads_per_rank(config: TrainingConfig, on_gpu: bool) -> int:
    """Torch/OpenMP threads for each rank.

    CPU ranks get one thread each. Torch's intra-op threads meet at a barrier after every op (the prediction path
    works around the same barrier with single-threaded ops, `inference.Predictor`); when another process holds one
    of the cores, every op waits for the descheduled thread's next time slice. On a shared machine one thread per
    rank trained several times faster than two, with or without a busy neighbour (benchmarks/README.md, training.py:
    `benchmarks/training.py --mode threads --busy-neighbour`). 2 ranks x 1 thread (num_ranks 2 and
    per_device_batch_size 16 for the same global batch) is a little faster still, but doubles the model's memory and
    ties checkpoints to 2 ranks, so the default stays 1 rank. On a quiet machine 2 threads were faster, but a
    training job cannot know that a neighbour will not start.

    GPU ranks keep cores / ranks (their CPU work is batching and the optimizer's bookkeeping, no barrier per op);
    oversubscribed cores made DeepSpeed far slower either way (ARCHITECTURE.md §4). `torch_threads` overrides both.
    """
    if config.torch_threads is not None:
        return config.torch_threads
    if not on_gpu:
        return CPU_THREADS_PER_RANK
    return max(1, _usable_cores() // config.num_ranks)


def training_env(config: TrainingConfig, base_env: Mapping[str, str]) -> dict[str, str]:
    """Environment for the launcher and its ranks: offline Hugging Face, one thread pool per rank, unbuffered logs."""
    threads = str(threads_per_rank(config, on_gpu=bool(visible_gpus(base_env))))
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


def _usable_cores() -> int:
    """Cores this process may run on (cgroup/affinity aware, unlike os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the trainer's log, for the message of a failed or refused training."""
    if not path.exists():
        return "(no training log was written)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
