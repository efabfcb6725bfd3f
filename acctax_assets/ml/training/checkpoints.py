"""Resuming: which checkpoint a relaunch continues from, decided once on rank 0 for every rank, and why a damaged
or mismatched one cannot be used. Apart from the loop because a bad checkpoint must be named before hours of
training are spent on it."""

from __future__ import annotations

import json
import pickle
import shutil
import time
from pathlib import Path

import torch
from accelerate import PartialState
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.ml.training.reporting import Reporter


class CheckpointError(AcctaxError):
    """A checkpoint to resume from cannot be loaded."""


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


def set_interrupted_saves_aside(checkpoint_dir: Path) -> Path | None:
    """Move checkpoints without trainer_state.json (the Trainer writes it last, so their save was cut by a killed
    rank) out of the Trainer's sight, so the relaunch resumes from the newest complete one instead of failing."""
    interrupted = [
        path
        for path in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if not (path / "trainer_state.json").is_file()
    ]
    if not interrupted:
        return None
    target = checkpoint_dir.parent / f"checkpoints-interrupted-{time.strftime('%Y%m%d-%H%M%S')}"
    target.mkdir(parents=True, exist_ok=True)
    for checkpoint in interrupted:
        shutil.move(str(checkpoint), str(target / checkpoint.name))
    return target


def resume_checkpoint(config: TrainingConfig, state: PartialState, reporter: Reporter) -> Path | None:
    """The checkpoint to resume from, decided on rank 0 and shared, so every rank takes the same path."""
    decision: list[str | None] = [None]
    error: list[str | None] = [None]
    if state.is_main_process:
        moved = set_interrupted_saves_aside(config.checkpoint_dir) if config.checkpoint_dir.is_dir() else None
        if moved is not None:
            reporter.warning(f"moved checkpoints whose save was interrupted to {moved}")
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
                reporter.warning(
                    f"checkpoint {newest} cannot be loaded ({problem}); moved checkpoints to {moved} and starting over"
                )
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
