"""`python -m acctax_assets.ml.training.supervise LOG -- COMMAND...`: run the training launcher so that stopping it stops
every rank, and keep a copy of its output.

Dagster Pipes interrupts a run by signalling only the process it started. The single-node DeepSpeed launcher
does not forward signals to `launch.py` or the ranks, so they would keep training as orphans. This supervisor
starts the launcher in its own process group and sends SIGINT/SIGTERM to the whole group; it also copies the
launcher's stdout+stderr into LOG (the last lines go into the step's failure message).

On CPU, DeepSpeed's shared-memory allreduce (`deepspeed_shm_comm`) creates a buffer per rank in /dev/shm, named
after the master address and port, and never unlinks it: every training left 66 MB of RAM behind (213 of them,
14 GB, got processes OOM-killed on a 23 GB machine). Once the launcher has ended, the supervisor removes the buffers
of its own master port, which no other launch on this machine can use at the same time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

GRACE_SECONDS = 20
SHARED_MEMORY = Path("/dev/shm")
SHM_BUFFER_PREFIX = "deepspeed_allreduce_buffer_"


def master_port(command: list[str]) -> str | None:
    """The launcher's `--master_port` value, if the command names one."""
    for flag, value in itertools.pairwise(command):
        if flag == "--master_port":
            return value
    return None


def remove_shm_buffers(port: str, folder: Path = SHARED_MEMORY) -> list[Path]:
    """Unlink the allreduce buffers DeepSpeed left for `port` (`<prefix><rank>_<address>_<port>_<n>`)."""
    removed = []
    for path in folder.glob(f"{SHM_BUFFER_PREFIX}*_{port}_*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def supervise(log_path: Path, command: list[str]) -> int:
    """Run `command` in a new process group, tee its output to stdout and `log_path`, forward stop signals."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    if child.stdout is None:
        raise RuntimeError("the launcher's output pipe was not opened")
    with log_path.open("ab") as log:
        for line in iter(child.stdout.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            log.write(line)
            log.flush()
    try:
        code = child.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        code = child.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # ranks the launcher left behind when it exited on a signal
    port = master_port(command)
    if port is not None:
        remove_shm_buffers(port, SHARED_MEMORY)
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m acctax_assets.ml.training.supervise LOG -- COMMAND...", file=sys.stderr)
        return 2
    return supervise(Path(args[0]), args[2:])


if __name__ == "__main__":
    sys.exit(main())
