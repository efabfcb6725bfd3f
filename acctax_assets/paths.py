"""One local root for everything the platform writes (ACCTAX_HOME), so a checkout stays clean and a user
can delete or move the whole state in one go."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "ACCTAX_HOME"
DEFAULT_HOME = ".acctax"
# The label slots' file (`ml.data.label_slots`), in storage and in every dataset and model folder: the name earlier
# releases wrote, kept so their datasets and models keep loading.
LABEL_SLOTS_FILE = "label_registry.json"

# The UI's first-visit community/newsletter dialog, off: an office user opening the UI has work to look at.
_NUX_OFF = """\
nux:
  enabled: false
"""
_DAGSTER_YAML = """\
# Written by acctax_assets on first use. Local SQLite storage under this folder; no telemetry.
telemetry:
  enabled: false
{nux}concurrency:
  # Steps in a pool (account_classifier is in pool "training") run one at a time across all runs.
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
    # Two runs of the same month never run at once (the second waits in the queue).
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


@dataclass(frozen=True)
class AcctaxHome:
    """The folder layout under ACCTAX_HOME."""

    root: Path

    @classmethod
    def from_env(cls) -> AcctaxHome:
        return cls(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).expanduser().resolve())

    @property
    def landing(self) -> Path:
        """Incoming ledger files; the sensor watches it."""
        return self.root / "landing"

    @property
    def landing_months(self) -> Path:
        """The months read from undated landing files, kept so each file is parsed once per version."""
        return self.storage / "landing_months.json"

    @property
    def storage(self) -> Path:
        """Materialized assets (Parquet, datasets, adapters)."""
        return self.root / "storage"

    @property
    def label_slots(self) -> Path:
        """The office's label slots (account code -> class slot), grown by every ledger_dataset and checked by
        serving: a model's slots must be a prefix of these."""
        return self.storage / LABEL_SLOTS_FILE

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance, unless DAGSTER_HOME is set by the user."""
        env = os.environ.get("DAGSTER_HOME")
        return Path(env).expanduser().resolve() if env else self.root / "dagster"

    @property
    def mlflow(self) -> Path:
        """MLflow's SQLite store and artifact root."""
        return self.root / "mlflow"

    @property
    def exports(self) -> Path:
        """Files written back for the office: the proposed account codes of each month."""
        return self.root / "exports"

    @property
    def column_map_override(self) -> Path:
        """Optional YAML that extends or overrides the packaged column map."""
        return self.root / "column_map.yaml"

    def ensure(self) -> AcctaxHome:
        """Create the folders and a minimal dagster.yaml, and point DAGSTER_HOME at the instance."""
        for folder in (self.landing, self.storage, self.dagster_home, self.mlflow):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text(_DAGSTER_YAML.format(nux=_NUX_OFF), encoding="utf-8")
        elif "nux:" not in (existing := dagster_yaml.read_text(encoding="utf-8")):
            dagster_yaml.write_text(existing.rstrip("\n") + "\n" + _NUX_OFF, encoding="utf-8")
        if not os.environ.get("DAGSTER_HOME"):
            os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        return self
