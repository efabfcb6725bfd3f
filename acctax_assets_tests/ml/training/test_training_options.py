"""Options real GPU runs need (bf16, QLoRA, flash attention, ranks per GPU): a config this machine cannot run is
refused in the Dagster process, before any training process starts, with the setting that fixes it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from acctax_assets.ml.training.config import TrainingConfig
from acctax_assets.ml.training.launch import Gpu, MachineError, check_machine, training_env, visible_gpus
from acctax_assets_tests.support.training_runs import config_for

A100 = Gpu("NVIDIA A100-SXM4-80GB", 8.0)
T4 = Gpu("Tesla T4", 7.5)


@pytest.fixture
def nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the GPU driver's `nvidia-smi` (the driver is outside this machine), first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\nprintf 'NVIDIA H100 80GB HBM3, 9.0\\nNVIDIA H100 80GB HBM3, 9.0\\nTesla T4, 7.5\\n'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return script


def test_gpus_are_read_from_nvidia_smi_and_narrowed_like_cuda(nvidia_smi: Path) -> None:
    gpus = visible_gpus({})
    assert [gpu.compute_capability for gpu in gpus] == [9.0, 9.0, 7.5] and gpus[2].name == "Tesla T4"
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,0"}) == [gpus[2], gpus[0]]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,7,0"}) == [gpus[1]], "CUDA stops at the first invalid index"


def test_gpu_ranks_share_the_cores_and_cpu_ranks_take_one_thread(nvidia_smi: Path, tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    assert training_env(config_for(tmp_path), {})["OMP_NUM_THREADS"] == str(cores)
    assert training_env(config_for(tmp_path), {"CUDA_VISIBLE_DEVICES": ""})["OMP_NUM_THREADS"] == "1"


def test_no_driver_means_no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert visible_gpus({}) == []


@pytest.mark.parametrize(
    ("overrides", "gpus", "message"),
    [
        (
            {"bf16": True},
            [],
            r"bf16=true needs a CUDA GPU .* this machine has no NVIDIA GPU\. Fix: bf16 null \(auto\) or false",
        ),
        ({"bf16": True}, [A100, T4], r"Tesla T4 \(compute capability 7\.5\) has no bfloat16 .*Fix: bf16 null"),
        (
            {"quantization": "4bit"},
            [],
            r"quantization=4bit \(bitsandbytes QLoRA\) needs a CUDA GPU.*Fix: quantization none",
        ),
        ({"quantization": "8bit"}, [A100], r"needs the bitsandbytes package\. Fix: pip install bitsandbytes"),
        (
            {"attn_implementation": "flash_attention_2"},
            [],
            r"flash_attention_2 needs a CUDA GPU.*Fix: attn_implementation sdpa",
        ),
        ({"attn_implementation": "flash_attention_2"}, [A100], r"needs the flash-attn package"),
        ({"num_ranks": 4}, [A100, A100], r"num_ranks=4 but this node has 2 visible GPU\(s\).*Fix: num_ranks 2"),
    ],
)
def test_configs_this_machine_cannot_run_are_refused_with_the_fix(
    tmp_path: Path, overrides: dict, gpus: list[Gpu], message: str
) -> None:
    with pytest.raises(MachineError, match=message):
        check_machine(config_for(tmp_path, **overrides), gpus)


@pytest.mark.parametrize(
    ("overrides", "gpus"),
    [
        ({}, []),
        ({"bf16": None, "num_ranks": 2}, []),  # CPU ranks: any number, fp32
        ({"bf16": False, "gradient_checkpointing": True, "attn_implementation": "eager"}, []),
        ({"bf16": True, "num_ranks": 2}, [A100, A100]),
        ({"num_ranks": 8, "hostfile": "/etc/hosts", "master_addr": "10.0.0.1"}, [A100]),  # slots come from the hostfile
    ],
)
def test_configs_this_machine_can_run_pass(tmp_path: Path, overrides: dict, gpus: list[Gpu]) -> None:
    check_machine(config_for(tmp_path, **overrides), gpus)


def test_quantized_weights_with_zero3_are_rejected_by_the_config(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="quantization=4bit with zero_stage=3.*Fix: zero_stage 2"):
        config_for(tmp_path, quantization="4bit", zero_stage=3)
    assert config_for(tmp_path, quantization="4bit", zero_stage=2).quantization == "4bit"
    with pytest.raises(ValidationError, match="attn_implementation"):
        config_for(tmp_path, attn_implementation="flash")


def test_new_options_change_the_checkpoint_fingerprint(tmp_path: Path) -> None:
    """Checkpoints of a run with other numerics must not be resumed by this one."""
    plain = config_for(tmp_path)
    for overrides in ({"gradient_checkpointing": True}, {"attn_implementation": "eager"}, {"quantization": "8bit"}):
        assert config_for(tmp_path, **overrides).fingerprint("data") != plain.fingerprint("data"), overrides


def test_training_config_documents_every_option_in_the_launchpad() -> None:
    """Every TrainingConfig knob a user may set is offered by the Dagster config of account_classifier."""
    from acctax_assets.defs.account_classifier import ClassifierConfig

    internal = {
        "base_model",
        "dataset_dir",
        "registry_path",
        "output_dir",
        "use_deepspeed",
        "torch_threads",
        "eval_batch_size",
        "lora",
    }
    missing = set(TrainingConfig.model_fields) - internal - set(ClassifierConfig.model_fields)
    assert not missing
