"""Where this process sits among the ranks and where its messages go: Dagster Pipes on global rank 0 when the
Dagster asset launched it, stderr otherwise. Kept apart so every other module reports the same way."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from dagster_pipes import PipesContext, PipesEnvVarParamsLoader, open_dagster_pipes

logger = logging.getLogger("acctax_assets.ml.training")


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in the launch; read from the launcher's environment."""

    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Ranks:
        return cls(rank=int(os.environ.get("RANK", "0")), world_size=int(os.environ.get("WORLD_SIZE", "1")))


class Reporter:
    """Progress and the final materialization: to Dagster Pipes when rank 0 runs under Pipes, else to stderr."""

    def __init__(self, pipes: PipesContext | None) -> None:
        self._pipes = pipes

    def info(self, message: str) -> None:
        logger.info(message)
        if self._pipes is not None:
            self._pipes.log.info(message)

    def warning(self, message: str) -> None:
        logger.warning(message)
        if self._pipes is not None:
            self._pipes.log.warning(message)

    def materialize(self, metadata: Mapping[str, float | int | str | bool]) -> None:
        if self._pipes is not None:
            self._pipes.report_asset_materialization(metadata=dict(metadata))


@contextmanager
def open_reporter(ranks: Ranks) -> Iterator[Reporter]:
    """Every rank inherits the Pipes environment; only global rank 0 may open it (else Dagster sees several results)."""
    if ranks.is_main and PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as pipes:
            yield Reporter(pipes)
    else:
        yield Reporter(None)


def configure_logging(ranks: Ranks) -> None:
    """Progress from rank 0 only, warnings from every rank: N ranks must not repeat each line N times."""
    logging.basicConfig(
        level=logging.INFO if ranks.is_main else logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s rank{ranks.rank} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
