"""The label slots: a persisted, append-only map account code -> class slot, with spare slots.

The classifier head always has `max_classes` outputs, so a new code fills the next free slot without
moving any other id or changing the head's shape (ARCHITECTURE.md §3 trap 2). Unknown codes are errors, never a
silent mapping to a real class.

Called the "label registry" before "registry" came to mean the MLflow model registry only. What earlier releases
wrote keeps its name, so stored datasets and models keep loading: the file `label_registry.json` (in ACCTAX_HOME's
storage and in every dataset and model folder, `LABEL_SLOTS_FILE`), its JSON keys, the `registry_path` key of
`training_config.json`, the `registry_*` metadata of `ledger_dataset`, and messages that name the file's content
"label registry".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from acctax_assets.atomic_writes import write_text
from acctax_assets.errors import AcctaxError
from acctax_assets.paths import LABEL_SLOTS_FILE, AcctaxHome

DEFAULT_MAX_CLASSES = 260
SPARE_PREFIX = "__spare_"


class LabelOverflowError(AcctaxError):
    """More distinct codes than slots."""


class UnknownLabelError(AcctaxError):
    """A code the label slots have never seen."""


@dataclass(frozen=True)
class LabelSlots:
    max_classes: int = DEFAULT_MAX_CLASSES
    codes: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.codes) > self.max_classes:
            raise LabelOverflowError(
                f"{len(self.codes)} account codes do not fit in max_classes={self.max_classes}. "
                "Fix: raise max_classes (this changes the classifier head; retrain from the base model)"
            )
        if len(set(self.codes)) != len(self.codes):
            raise AcctaxError("label registry lists a code twice; the file is corrupt")

    @property
    def used(self) -> int:
        return len(self.codes)

    def with_codes(self, codes: Iterable[str], names: Mapping[str, str] | None = None) -> LabelSlots:
        """Label slots with unseen codes appended in sorted order; existing ids never move."""
        known = set(self.codes)
        new = sorted({str(c) for c in codes} - known)
        merged_names = {**self.names, **{k: v for k, v in (names or {}).items() if v}}
        if len(self.codes) + len(new) > self.max_classes:
            raise LabelOverflowError(
                f"{len(self.codes)} registered + {len(new)} new account codes exceed max_classes={self.max_classes} "
                f"(new: {new[:10]}{'…' if len(new) > 10 else ''}). Fix: raise max_classes and retrain from the base model"
            )
        return LabelSlots(max_classes=self.max_classes, codes=(*self.codes, *new), names=merged_names)

    def id_of(self, code: str) -> int:
        try:
            return self.codes.index(code)
        except ValueError:
            raise UnknownLabelError(
                f"account code {code!r} is not in the label registry; re-materialize ledger_dataset to register it"
            ) from None

    def ids(self, codes: Iterable[str]) -> list[int]:
        """Class ids for codes; any unknown code raises (no silent fallback to a real class)."""
        lookup = {code: index for index, code in enumerate(self.codes)}
        unknown = sorted({c for c in codes if c not in lookup})
        if unknown:
            raise UnknownLabelError(f"account codes {unknown[:10]} are not in the label registry")
        return [lookup[c] for c in codes]

    def code_of(self, class_id: int) -> str:
        if not 0 <= class_id < len(self.codes):
            raise UnknownLabelError(
                f"class id {class_id} is a spare slot or out of range (registry has {len(self.codes)} codes)"
            )
        return self.codes[class_id]

    @property
    def id2label(self) -> dict[int, str]:
        """Every slot, spare slots named `__spare_<id>` so a model config covers the whole head."""
        return {i: self.codes[i] if i < len(self.codes) else f"{SPARE_PREFIX}{i}" for i in range(self.max_classes)}

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in self.id2label.items()}

    def to_json(self) -> str:
        return json.dumps(
            {"max_classes": self.max_classes, "codes": list(self.codes), "names": dict(sorted(self.names.items()))},
            ensure_ascii=False,
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LabelSlots:
        data = json.loads(text)
        return cls(max_classes=int(data["max_classes"]), codes=tuple(data["codes"]), names=dict(data.get("names", {})))

    @classmethod
    def read(cls, path: Path) -> LabelSlots:
        """The label slots stored at `path` (a `LABEL_SLOTS_FILE`, which must exist)."""
        return cls.from_json(path.read_text(encoding="utf-8"))

    @classmethod
    def of_office(cls, home: AcctaxHome) -> LabelSlots | None:
        """The office's label slots now, which a served model's must start with; None before its first
        ledger_dataset."""
        return cls.read(home.label_slots) if home.label_slots.exists() else None

    @classmethod
    def load(cls, path: Path, max_classes: int = DEFAULT_MAX_CLASSES) -> LabelSlots:
        """The label slots stored at `path`, or empty ones when none exist yet."""
        if not path.exists():
            return cls(max_classes=max_classes)
        try:
            label_slots = cls.read(path)
        except (ValueError, KeyError, TypeError, AcctaxError) as exc:
            raise AcctaxError(
                f"{path} is not a valid label registry ({exc}). Fix: restore it from the {LABEL_SLOTS_FILE} of the "
                "newest storage/ledger_dataset/<version>/ folder; deleting it renumbers the classes and needs a retrain from the base model"
            ) from exc
        if label_slots.max_classes != max_classes:
            raise AcctaxError(
                f"{path} has max_classes={label_slots.max_classes}, config asks for {max_classes}. "
                "Fix: keep max_classes, or delete the registry and retrain from the base model"
            )
        return label_slots

    def save(self, path: Path) -> None:
        """Atomic write (temp file + rename)."""
        write_text(path, self.to_json())


class LabelSlotsMismatchError(AcctaxError):
    """A model's label slots are not a prefix of the current ones: its class ids mean other codes now."""


def check_slots_match(mine: LabelSlots, current: LabelSlots, owner: str) -> None:
    """The label slots are append-only, so the codes `owner` (a stored model) was trained on must still sit in the
    same slots today; otherwise its class ids would name the wrong codes."""
    moved = [
        (i, code, current.codes[i] if i < current.used else None)
        for i, code in enumerate(mine.codes)
        if i >= current.used or current.codes[i] != code
    ]
    if moved or mine.max_classes != current.max_classes:
        detail = (
            f"slot {moved[0][0]} is {moved[0][1]!r} in the model but {moved[0][2]!r} now"
            if moved
            else f"the model has {mine.max_classes} slots, the registry {current.max_classes}"
        )
        raise LabelSlotsMismatchError(
            f"{owner} was trained with a label registry that does not match the current one ({detail}), "
            "so its class ids would name the wrong codes. Fix: re-run training_job (ledger_dataset, tokenized_dataset, "
            "account_classifier, baseline_classifier, ensemble_classifier, served_classifier) to retrain on the current registry"
        )
