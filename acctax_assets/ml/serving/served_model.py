"""The served model, whatever its kind (no Dagster): adapter, TF-IDF baseline, precedent lookup or an ensemble of
them, loaded from the folder a registry version points at, all giving (rows x label slots) probabilities and
the same top-k."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from acctax_assets.ledger.cleaning import CleaningRules
from acctax_assets.ledger.column_map import ColumnMap, load_column_map
from acctax_assets.ledger.features import DEFAULT_FEATURES
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.candidates.baseline import BaselineRef, slot_probabilities
from acctax_assets.ml.candidates.ensemble import EnsembleRef, mix
from acctax_assets.ml.candidates.evidence import (
    NO_PRECEDENT_STORED,
    BookingEvidence,
    StrongPrecedent,
    evidence_hit_rates,
)
from acctax_assets.ml.candidates.precedent import PrecedentRef
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots, check_slots_match
from acctax_assets.ml.data.serialization import TextSpec, serialize_rows
from acctax_assets.ml.evaluation.calibration import TEMPERATURE_FIGURE, CalibratedScorer, recalibrate_eval_rows
from acctax_assets.ml.evaluation.confidence import (
    DEFAULT_TARGET_ACCURACY,
    ReviewPolicy,
    ReviewThreshold,
    valid_threshold,
)
from acctax_assets.ml.evaluation.outputs import EVAL_PREDICTIONS_FILE
from acctax_assets.ml.serving.model_registry import ModelRegistry, RegisteredCandidate, ServedFilesMissingError
from acctax_assets.ml.serving.predictions import (
    DISAGREES_WITH_PRECEDENT,
    Predictions,
    PredictionScores,
    prediction_scores,
    prediction_table,
)
from acctax_assets.paths import AcctaxHome

if TYPE_CHECKING:
    from acctax_assets.ml.serving.inference import Device, Predictor


class Scorer(Protocol):
    trained_ids: np.ndarray

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


class BaselineScorer:
    def __init__(self, baseline: BaselineRef) -> None:
        self.pipeline = baseline.load()
        self.max_classes = baseline.label_slots().max_classes
        self.trained_ids = np.asarray(self.pipeline.classes_, dtype=np.int64)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return slot_probabilities(self.pipeline, texts, self.max_classes)


class PrecedentScorer:
    def __init__(self, precedent: PrecedentRef) -> None:
        self.lookup = precedent.load()
        self.trained_ids = np.asarray(self.lookup.trained_ids, dtype=np.int64)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.lookup.probabilities(texts)


class EnsembleScorer:
    """The weighted mix of its members' probabilities (members of weight 0 are not stored, so never run)."""

    def __init__(self, members: Sequence[Scorer], weights: Sequence[float]) -> None:
        self.members, self.weights = list(members), list(weights)
        self.trained_ids = np.unique(np.concatenate([member.trained_ids for member in self.members]))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return mix([member.probabilities(texts) for member in self.members], self.weights)


def _existing(path: Path, what: str, entry: RegisteredCandidate) -> Path:
    if not path.is_dir():
        raise ServedFilesMissingError(
            f"{entry.label} needs its {what} at {path}, which no longer exists; nothing is served in its place. "
            "Fix: move the champion alias to a version whose files exist (`acctax champion --set N`) or re-run training_job"
        )
    return path


@dataclass(frozen=True)
class ServedModel:
    """A registry version ready to score rows: its scorer, label slots, text spec and valid-split rows."""

    entry: RegisteredCandidate
    scorer: Scorer
    label_slots: LabelSlots
    text_spec: TextSpec
    eval_rows: pd.DataFrame

    @property
    def label(self) -> str:
        return self.entry.label

    def check_label_slots(self, current: LabelSlots) -> None:
        check_slots_match(self.label_slots, current, self.label)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Each distinct text is scored once (a month repeats the same vendor, memo and amount often: rent, card
        fees, subscriptions), then the rows get their text's proposal."""
        started = time.perf_counter()
        distinct, row_text = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
        probabilities = self.scorer.probabilities(distinct.tolist())
        top = Predictions.top(probabilities, self.scorer.trained_ids, 0.0)
        return Predictions(ids=top.ids[row_text], probs=top.probs[row_text], seconds=time.perf_counter() - started)


def load_served(
    entry: RegisteredCandidate,
    device: Device = "auto",
    batch_size: int = 64,
    quantize: bool = True,
    workers: int | None = None,
) -> ServedModel:
    """The scorer of `entry`'s kind over its stored folder (an ensemble loads its members too);
    `workers`: the adapter's CPU threads (None: one per torch thread)."""
    folder = _existing(entry.path, "folder", entry)

    def adapter_scorer(path: Path) -> Predictor:
        # Imported here: torch loads only when an adapter is served, not when the code location imports this module.
        from acctax_assets.ml.serving.inference import Predictor

        return Predictor(
            AdapterRef(_existing(path, "adapter", entry)),
            device=device,
            batch_size=batch_size,
            quantize=quantize,
            workers=workers,
        )

    def member_scorer(kind: str, path: Path) -> Scorer:
        if kind == "adapter":
            return adapter_scorer(path)
        if kind == "baseline":
            return BaselineScorer(BaselineRef(_existing(path, "baseline", entry)))
        if kind == "precedent":
            return PrecedentScorer(PrecedentRef(_existing(path, "precedent lookup", entry)))
        raise ValueError(f"{entry.label}: unknown candidate kind {kind!r}")

    scorer: Scorer
    if entry.kind == "ensemble":
        spec = EnsembleRef(folder).spec()
        scorer = EnsembleScorer(
            [member_scorer(m.kind, Path(m.path)) for m in spec.members], [m.weight for m in spec.members]
        )
    else:
        scorer = member_scorer(entry.kind, folder)
    served = ServedModel(
        entry=entry,
        scorer=scorer,
        label_slots=LabelSlots.read(folder / LABEL_SLOTS_FILE),
        text_spec=TextSpec.load(folder),
        eval_rows=pd.read_parquet(folder / EVAL_PREDICTIONS_FILE),
    )
    return calibrated(served)


def calibrated(served: ServedModel) -> ServedModel:
    """`served` with its scorer and its valid/test rows at the temperature served_classifier fitted on valid
    (registry figure `temperature`; 1 for versions registered before calibration), whatever the scorer's kind:
    the review threshold derived from the valid rows and a new month's confidences then mean the same thing."""
    temperature = float(served.entry.figures.get(TEMPERATURE_FIGURE, 1.0))
    if temperature == 1.0:
        return served
    return replace(
        served,
        scorer=CalibratedScorer(served.scorer, temperature),
        eval_rows=recalibrate_eval_rows(served.entry.path, served.eval_rows, temperature),
    )


def served_evidence(entry: RegisteredCandidate, versions: Sequence[RegisteredCandidate]) -> BookingEvidence:
    """The evidence of the precedent candidate registered for `entry`'s dataset version (`entry` itself when the
    precedent serves; the latest registration if several): the same history the served model was judged against.
    None registered, its folder gone, or one stored before evidence existed: every row says
    NO_PRECEDENT_STORED (with why), and the proposals are made and reviewed as before."""
    if entry.kind == "precedent":
        precedents = [entry]
    else:
        precedents = [v for v in versions if v.kind == "precedent" and v.dataset_version == entry.dataset_version]
    if not precedents:
        return BookingEvidence(
            None, f"{NO_PRECEDENT_STORED} (no precedent candidate of ledger_dataset {entry.dataset_version})"
        )
    chosen = max(precedents, key=lambda v: int(v.registry_version))
    if not chosen.path.is_dir():
        return BookingEvidence(None, f"{NO_PRECEDENT_STORED} ({chosen.label}: {chosen.path} no longer exists)")
    return BookingEvidence.load(chosen.path)


@dataclass(frozen=True)
class Proposer:
    """A served model with everything its proposals need besides the rows: the review threshold of the office's
    operating point on its valid rows, the evidence of its dataset version and the strong-precedent rule. The one
    path from feature rows to the prediction table: `ledger_predictions` and the MLflow pyfunc model both use it."""

    served: ServedModel
    policy: ReviewPolicy
    threshold: ReviewThreshold
    evidence: BookingEvidence
    strong: StrongPrecedent

    @classmethod
    def load(
        cls,
        entry: RegisteredCandidate,
        versions: Sequence[RegisteredCandidate],
        policy: ReviewPolicy,
        strong: StrongPrecedent,
        current: LabelSlots | None = None,
        **load_args: Any,
    ) -> Proposer:
        """`entry` served (`load_args` go to `load_served`), checked against the office's `current` label slots when
        there is one, with the evidence of the precedent registered among `versions`."""
        served = load_served(entry, **load_args)
        if current is not None:
            served.check_label_slots(current)
        return cls(served, policy, valid_threshold(served.eval_rows, policy), served_evidence(entry, versions), strong)

    @classmethod
    def champion(
        cls, registry: ModelRegistry, policy: ReviewPolicy, strong: StrongPrecedent, home: AcctaxHome, **load_args: Any
    ) -> Proposer:
        """What a month's proposals are made with: the version the `champion` alias names now (resolved when the
        run starts, so moving the alias back is a rollback), checked against the office's label slots."""
        return cls.load(
            registry.resolve(), registry.versions(), policy, strong, LabelSlots.of_office(home), **load_args
        )

    def texts(self, features: pd.DataFrame) -> list[str]:
        """The model text of every feature row (a feature the served model reads but the rows lack is an error)."""
        return serialize_rows(features, self.served.text_spec.text_features).astype(str).tolist()

    def propose(self, features: pd.DataFrame, texts: list[str] | None = None) -> tuple[pd.DataFrame, Predictions]:
        """The prediction table of `features` (one row each, same order) and the raw top-k with its timing;
        `texts`: their model texts when the caller made them already."""
        texts = self.texts(features) if texts is None else texts
        predictions = self.served.predict(texts) if texts else Predictions.empty()
        table = prediction_table(
            features,
            predictions,
            self.served.label_slots,
            self.threshold,
            self.served.label,
            self.evidence.explain(texts),
            self.strong,
        )
        return table, predictions

    def propose_month(self, features: pd.DataFrame, texts: list[str]) -> MonthProposals:
        """A month's proposals with what is measured on them; `texts` (from `texts`) are made first, so a feature the
        rows lack fails the month before anything is proposed."""
        table, predictions = self.propose(features, texts)
        return MonthProposals(
            table, predictions, prediction_scores(table, self.served.label_slots), evidence_hit_rates(table)
        )


@dataclass(frozen=True)
class MonthProposals:
    """A month's prediction table and raw top-k with its timing; on rows the clerk already coded, the scores and how
    often the evidence named the clerk's code."""

    table: pd.DataFrame
    predictions: Predictions
    scores: PredictionScores | None
    evidence_hit_rates: dict[str, float | int] | None

    @property
    def review_rows(self) -> int:
        return int(self.table["needs_review"].sum())

    def review_by_reason(self) -> dict[str, int]:
        """Rows to review per reason; the first reason decides: "low_confidence; disagrees with precedent …" is a
        low-confidence row."""
        reasons = self.table.loc[self.table["needs_review"], "review_reason"].str.split(";").str[0]
        return reasons.value_counts().to_dict()

    @property
    def added_by_precedent(self) -> int:
        """Rows sent to review only because they disagree with a strong precedent."""
        return int((self.table["review_reason"] == DISAGREES_WITH_PRECEDENT).sum())

    @property
    def precedent_disagreements(self) -> int:
        """Rows whose proposal disagrees with a strong precedent, whatever else sent them to review."""
        return int(self.table["review_reason"].str.contains("disagrees", regex=False).fillna(False).sum())


@dataclass(frozen=True)
class ServingSettings:
    """What reading and proposing rows depends on besides the model: the office's ACCTAX_HOME (its column map and
    label slots), the ledger settings and the review operating point in force when the version was
    registered. Recorded in the MLflow model's `model_config` (visible in its MLmodel)."""

    home: Path
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_abs_amount: int = CleaningRules.max_abs_amount
    amount_tolerance: int = CleaningRules.amount_tolerance
    policy: ReviewPolicy = field(default_factory=lambda: ReviewPolicy(DEFAULT_TARGET_ACCURACY))
    strong: StrongPrecedent = field(default_factory=StrongPrecedent)

    def to_config(self) -> dict[str, Any]:
        return {
            "acctax_home": str(self.home),
            "features": list(self.features),
            "max_abs_amount": self.max_abs_amount,
            "amount_tolerance": self.amount_tolerance,
            "review_policy": asdict(self.policy),
            "strong_precedent": asdict(self.strong),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ServingSettings:
        return cls(
            home=Path(config["acctax_home"]),
            features=tuple(config["features"]),
            max_abs_amount=int(config["max_abs_amount"]),
            amount_tolerance=int(config["amount_tolerance"]),
            policy=ReviewPolicy(**config["review_policy"]),
            strong=StrongPrecedent(**config["strong_precedent"]),
        )

    def column_map(self) -> ColumnMap:
        return load_column_map(AcctaxHome(self.home).column_map_override)

    def current_labels(self) -> LabelSlots | None:
        return LabelSlots.of_office(AcctaxHome(self.home))
