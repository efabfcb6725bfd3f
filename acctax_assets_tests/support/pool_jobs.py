"""A tiny job for the pool test: two steps in the `training` pool that record when they ran, executed by the
multiprocess executor (kept apart from the code location so step processes import only Dagster)."""

import os
import time
from pathlib import Path

from dagster import OpExecutionContext, job, op

STEP_SECONDS = 3.0


def _record(context: OpExecutionContext, name: str) -> None:
    started = time.time()
    time.sleep(STEP_SECONDS)
    Path(os.environ["ACCTAX_POOL_TRACE"], name).write_text(f"{started} {time.time()}")


@op(pool="training")
def first_training(context: OpExecutionContext) -> None:
    _record(context, "first")


@op(pool="training")
def second_training(context: OpExecutionContext) -> None:
    _record(context, "second")


@job
def two_trainings() -> None:
    first_training()
    second_training()


def build_two_trainings():
    return two_trainings
