"""IO managers for directory assets: HF datasets (save_to_disk) and LoRA adapters, written as atomic
versions (see versioned_dirs); downstream receives a reference, not a copy."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.candidates.baseline import BaselineModel, BaselineRef
from acctax_assets.ml.candidates.ensemble import EnsembleModel, EnsembleRef
from acctax_assets.ml.candidates.precedent import PrecedentModel, PrecedentRef
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TextSpec
from acctax_assets.paths import AcctaxHome
from acctax_assets.versioned_dirs import VersionedDirs

if TYPE_CHECKING:
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase

VERSIONS_KEPT = 3


class MissingArtifactError(AcctaxError):
    """A downstream asset asked for an upstream directory asset that was never materialized."""


# AssetIn metadata of an input that receives None, not MissingArtifactError, while its asset was never materialized
# (a check that can say "nothing to compare with yet" instead of failing its run).
MISSING_IS_NONE = "acctax/missing_is_none"


@dataclass(frozen=True)
class DatasetArtifact:
    """What a dataset asset returns: the splits, the label slots they were encoded with, how rows became
    text, and for a tokenized dataset the (extended) tokenizer that produced its ids."""

    dataset: DatasetDict
    label_slots: LabelSlots
    text_spec: TextSpec
    tokenizer: PreTrainedTokenizerBase | None = None


@dataclass(frozen=True)
class SavedDataset:
    """What a downstream asset receives: the published folder."""

    path: Path

    def load(self) -> DatasetDict:
        from datasets import load_from_disk

        return load_from_disk(str(self.path))

    def label_slots(self) -> LabelSlots:
        return LabelSlots.read(self.path / LABEL_SLOTS_FILE)

    def text_spec(self) -> TextSpec:
        return TextSpec.load(self.path)

    def content_hash(self) -> str:
        """Hash of the data files and label slots (not the version name, nor text_spec.json which names the source
        version; its features and max_length already shape the arrow files): identical splits give the same hash."""
        digest = hashlib.sha256()
        for file in sorted(self.path.rglob("*")):
            if file.is_file() and (file.suffix == ".arrow" or file.name == LABEL_SLOTS_FILE):
                digest.update(file.relative_to(self.path).as_posix().encode())
                with file.open("rb") as stream:
                    for block in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class TrainedAdapter:
    """What the classifier asset returns: the trainer's adapter folder, copied into a new version; the
    work folder (checkpoints, kept only for crash recovery) is removed once the version is published."""

    source: Path
    work_dir: Path | None = None


def _version(context: OutputContext) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{context.run_id[:8]}"


def _store(base_path: str | None, key: list[str]) -> VersionedDirs:
    base = Path(base_path) if base_path else AcctaxHome.from_env().storage
    return VersionedDirs(base.joinpath(*key))


def _current(store: VersionedDirs, context: InputContext) -> Path:
    current = store.current()
    if current is None:
        name = context.upstream_output.asset_key.to_user_string() if context.upstream_output else str(store.root)
        raise MissingArtifactError(f"{name} has no materialization in {store.root}. Fix: materialize {name} first")
    return current


class DatasetIOManager(ConfigurableIOManager):
    """Saves DatasetDicts with save_to_disk plus the label slots (label_registry.json); keeps the last few versions."""

    base_path: str | None = Field(default=None, description="Default: $ACCTAX_HOME/storage")

    def handle_output(self, context: OutputContext, obj: DatasetArtifact) -> None:
        from acctax_assets.ml.data.dataset import save_dataset
        from acctax_assets.ml.data.tokenization import save_dataset_tokenizer

        def build(folder: Path) -> None:
            save_dataset(obj.dataset, folder)
            obj.label_slots.save(folder / LABEL_SLOTS_FILE)
            obj.text_spec.save(folder)
            if obj.tokenizer is not None:
                save_dataset_tokenizer(obj.tokenizer, folder)

        path = _store(self.base_path, context.asset_key.path).publish(_version(context), build, keep=VERSIONS_KEPT)
        context.add_output_metadata({"path": MetadataValue.path(str(path))})

    def load_input(self, context: InputContext) -> SavedDataset:
        return SavedDataset(_current(_store(self.base_path, context.asset_key.path), context))


class AdapterIOManager(ConfigurableIOManager):
    """Stores every adapter as its own version (never overwritten, never pruned: a registry version may point at
    any of them); downstream reads the newest."""

    base_path: str | None = Field(default=None, description="Default: $ACCTAX_HOME/storage")

    def handle_output(self, context: OutputContext, obj: TrainedAdapter) -> None:
        path = _store(self.base_path, context.asset_key.path).publish(
            _version(context), lambda folder: shutil.copytree(obj.source, folder, dirs_exist_ok=True)
        )
        if obj.work_dir is not None:
            shutil.rmtree(obj.work_dir, ignore_errors=True)
        images = {image.stem: MetadataValue.path(str(image)) for image in sorted(path.glob("*.png"))}
        context.add_output_metadata({"path": MetadataValue.path(str(path)), "version": path.name, **images})

    def load_input(self, context: InputContext) -> AdapterRef:
        return AdapterRef(_current(_store(self.base_path, context.asset_key.path), context))


class SavedModelIOManager(ConfigurableIOManager):
    """Stores an object with `save(folder)` (baseline, precedent, ensemble) as an atomic version, never pruned: a registry
    version (that model, or an ensemble built on it) may point at any of them. Subclasses say what loads."""

    base_path: str | None = Field(default=None, description="Default: $ACCTAX_HOME/storage")

    def handle_output(self, context: OutputContext, obj: BaselineModel | PrecedentModel | EnsembleModel) -> None:
        path = _store(self.base_path, context.asset_key.path).publish(_version(context), obj.save)
        context.add_output_metadata({"path": MetadataValue.path(str(path)), "version": path.name})

    def current_path(self, context: InputContext) -> Path:
        return _current(_store(self.base_path, context.asset_key.path), context)


class BaselineIOManager(SavedModelIOManager):
    """The scikit-learn baseline: joblib pipeline, per-row outputs, label slots, text spec."""

    def load_input(self, context: InputContext) -> BaselineRef | None:
        if (
            context.definition_metadata.get(MISSING_IS_NONE)
            and _store(self.base_path, context.asset_key.path).current() is None
        ):
            return None
        return BaselineRef(self.current_path(context))


class PrecedentIOManager(SavedModelIOManager):
    """The precedent lookup: its count tables, the evidence's similar-lines index, per-row outputs, label slots,
    text spec."""

    def load_input(self, context: InputContext) -> PrecedentRef:
        return PrecedentRef(self.current_path(context))


class EnsembleIOManager(SavedModelIOManager):
    """The ensemble: spec naming its adapter and baseline, per-row outputs, label slots, text spec."""

    def load_input(self, context: InputContext) -> EnsembleRef:
        return EnsembleRef(self.current_path(context))
