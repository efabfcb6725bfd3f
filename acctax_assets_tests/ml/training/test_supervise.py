"""The training supervisor: DeepSpeed's shared-memory buffers of its launch are gone once the launcher ended."""

import sys
from pathlib import Path

import pytest

from acctax_assets.ml.training import supervise


def test_the_launch_s_allreduce_buffers_are_removed_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervise, "SHARED_MEMORY", tmp_path)
    other = tmp_path / "deepspeed_allreduce_buffer_0_127.0.0.1_4322_0"
    other.write_bytes(b"another launch")
    unrelated = tmp_path / "psm_4321_0"
    unrelated.write_bytes(b"not DeepSpeed's")
    ours = [tmp_path / f"deepspeed_allreduce_buffer_0_127.0.0.1_4321_{rank}" for rank in (0, 1)]
    script = "import sys; [open(p, 'wb').write(b'x' * 64) for p in sys.argv[1:3]]"
    command = [sys.executable, "-c", script, str(ours[0]), str(ours[1]), "--master_port", "4321"]

    code = supervise.supervise(tmp_path / "train.log", command)

    assert code == 0
    assert not any(path.exists() for path in ours)
    assert other.exists() and unrelated.exists()


def test_a_command_without_master_port_removes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "SHARED_MEMORY", tmp_path)
    kept = tmp_path / "deepspeed_allreduce_buffer_0_127.0.0.1_4321_0"
    kept.write_bytes(b"x")

    assert supervise.supervise(tmp_path / "train.log", [sys.executable, "-c", "pass"]) == 0
    assert kept.exists()
    assert supervise.master_port(["deepspeed", "--num_gpus", "1", "--master_port", "29500"]) == "29500"
