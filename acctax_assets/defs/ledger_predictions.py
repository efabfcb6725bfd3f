"""`ledger_predictions`: the proposed account code of every cleaned row of a month, with the review queue.

Serves the model the MLflow registry alias `champion` points at when the run starts (adapter, baseline or
ensemble, as `served_classifier` promoted it or as someone moved the alias back), with its confidences at the
temperature fitted on its valid rows, and derives the review threshold from that model's calibrated valid-split
confidences at the office's operating point (`model_settings.review_target_accuracy`, `review_max_share`,
`review_share`; see evaluation.ReviewPolicy): the threshold and the month's confidences mean the same thing.
The proposal itself is `ml/serving`'s (`Proposer.champion`, `propose_month`); this asset resolves the settings,
calls it and turns the result into metadata.

Beside every proposal stands its evidence (`ml/candidates/evidence.py`), read from the precedent candidate registered for the
served dataset version: the client's precedent and up to three similar past lines. A proposal against a strong
precedent goes to review; the review figures count those rows too (`review_added_by_precedent`).
"""

from typing import Literal

import pandas as pd
from dagster import AssetExecutionContext, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.materialization_records import FEATURES, FEATURES_VERSION
from acctax_assets.defs.metadata_format import (
    listing,
    mapping_table,
    preview_cell,
    readable,
    records_table,
    share_of,
    short_text,
)
from acctax_assets.defs.ml_resources import ModelRegistryResource, ModelSettings
from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.candidates.evidence import StrongPrecedent
from acctax_assets.ml.evaluation.calibration import TEMPERATURE_FIGURE
from acctax_assets.ml.serving.predictions import PredictionScores
from acctax_assets.ml.serving.served_model import Proposer

SHOWN_ROWS = 10


class PredictionConfig(Config):
    batch_size: int = Field(
        default=32,
        ge=1,
        le=4096,
        description="Rows per forward pass, all of one token length (the default suits an int8 adapter on CPU, "
        "benchmarks/README.md: predict; raise it on a GPU)",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="CPU threads that each run whole batches (0: as many as torch uses, every core unless "
        "OMP_NUM_THREADS says otherwise)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: a CUDA GPU when torch sees one, else CPU"
    )
    quantize: bool = Field(
        default=True, description="An adapter on CPU runs with int8 dynamic quantization of its linear layers"
    )
    precedent_min_bookings: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="A precedent this many bookings strong (and precedent_min_share on one code) sends a proposal "
        "of another code to review",
    )
    precedent_min_share: float = Field(
        default=0.9,
        gt=0.5,
        le=1.0,
        description="Share of the precedent's bookings on its top code for it to count as strong (the defaults and "
        "their alternatives are measured in benchmarks/README.md: evidence_hit_rate)",
    )


def _score_metadata(scores: PredictionScores | None) -> dict[str, object]:
    if scores is None:
        return {"labelled_rows": 0}
    return {
        "labelled_rows": scores.labelled_rows,
        "accuracy": scores.accuracy,
        "f1_weighted": scores.f1_weighted,
        "f1_macro": scores.f1_macro,
        "review_errors_caught": scores.review_errors_caught,
        "codes_unknown_to_model": listing(scores.unknown_codes),
    }


@asset(
    partitions_def=ledger_months,
    group_name="predictions",
    deps=["served_classifier"],
    kinds={"pytorch", "sklearn", "parquet"},
)
@explain_months
def ledger_predictions(
    context: AssetExecutionContext,
    config: PredictionConfig,
    ledger_features: pd.DataFrame,
    settings: LedgerSettings,
    model_settings: ModelSettings,
    model_registry: ModelRegistryResource,
) -> Output[pd.DataFrame]:
    """Proposed code, name, confidence and top-3 for every row; `needs_review` marks the clerk's queue.

    Proposals are made for the months that came without account codes: ledger_prediction_sensor requests every
    month with uncoded rows, `acctax materialize` the months without any code. A coded month is not predicted, so it
    stays grey here although its ledger landed: nothing failed. `acctax predict --months YYYY-MM` (or *Materialize*
    on the month) predicts it anyway, and then scores the proposals against the clerk's codes."""
    month = context.partition_key[:7]
    try:
        proposer = Proposer.champion(
            model_registry.registry(),
            model_settings.review_policy(),
            StrongPrecedent(config.precedent_min_bookings, config.precedent_min_share),
            settings.acctax_home,
            device=config.device,
            batch_size=config.batch_size,
            quantize=config.quantize,
            workers=config.workers or None,
        )
        texts = proposer.texts(ledger_features)
    except AcctaxError as exc:
        raise Failure(description=f"ledger_predictions {month}: {exc}") from exc
    served, policy, threshold, evidence = proposer.served, proposer.policy, proposer.threshold, proposer.evidence
    temperature = served.entry.figures.get(TEMPERATURE_FIGURE, 1.0)
    context.log.info(f"Serving {served.label} (registry alias champion), confidences at temperature {temperature:.4f}")
    context.log.info(f"Review queue ({policy.describe()}): {threshold.describe()}")
    if threshold.warning:
        context.log.warning(f"{month}: {threshold.warning}")
    if evidence.history is None:
        context.log.warning(f"{month}: evidence: {evidence.missing}; proposals are made without it")
    if ledger_features.empty:
        context.log.warning(
            f"{month} has no cleaned rows (see rejected_ledger_rows); writing an empty prediction table"
        )
    proposals = proposer.propose_month(ledger_features, texts)
    table, predictions, scores = proposals.table, proposals.predictions, proposals.scores
    if not ledger_features.empty:
        context.log.info(
            f"{len(table)} rows predicted in {predictions.seconds:.1f} s ({predictions.rows_per_second:.0f} rows/s)"
        )
    if scores is not None and scores.unknown_codes:
        context.log.warning(
            f"{month} has codes the served model never saw (always counted wrong): {list(scores.unknown_codes)}"
        )
    review_rows, added = proposals.review_rows, proposals.added_by_precedent
    return Output(
        table,
        metadata=readable(
            {
                "rows": len(table),
                FEATURES_VERSION: latest_data_versions(context.instance, FEATURES, [context.partition_key]).get(
                    context.partition_key, ""
                ),
                "review_rows": review_rows,
                "review_share": share_of(review_rows, len(table)),
                "review_by_reason": mapping_table(proposals.review_by_reason(), "reason", "rows"),
                "review_added_by_precedent": added,
                "precedent_disagreements": proposals.precedent_disagreements,
                "evidence_source": "precedent candidate of the served dataset version"
                if evidence.history is not None
                else evidence.missing,
                "review_threshold": threshold.reported,
                "review_rule": threshold.describe(),
                "review_operating_point": policy.describe(),
                "expected_auto_accuracy": threshold.auto_accuracy,
                "expected_review_share": threshold.review_share,
                "review_share_by_confidence": share_of(review_rows - added, len(table)),
                "review_warning": threshold.warning or "none: the operating point is within review_max_share",
                "calibration_temperature": temperature,
                "rows_per_second": round(predictions.rows_per_second, 1),
                "served_model": served.label,
                "served_kind": served.entry.kind,
                "served_version": served.entry.version,
                "registry_version": served.entry.registry_version,
                **_score_metadata(scores),
                **(
                    {"evidence_hit_rate_review": mapping_table(proposals.evidence_hit_rates, "figure", "value")}
                    if proposals.evidence_hit_rates is not None
                    else {}
                ),
                "least_confident": _least_confident(table),
            }
        ),
    )


def _least_confident(table: pd.DataFrame) -> MetadataValue:
    """The least confident rows as a person reads them: short texts, amounts with thousands separators, the
    proposal as code and name, confidence with 3 decimals, the first review reason."""
    shown = table.sort_values("confidence").head(SHOWN_ROWS)
    rows = [
        {
            "party": short_text(row.get("party_name")),
            "item": short_text(row.get("item")),
            "amount": preview_cell("total_amount", row.get("total_amount")),
            "proposal": short_text(f"{row['predicted_code']} {row['predicted_name']}"),
            "confidence": preview_cell("confidence", row["confidence"]),
            "review": short_text(str(row["review_reason"]).split(";")[0]) if pd.notna(row.get("review_reason")) else "",
            **({"true_code": row["true_code"]} if "true_code" in table else {}),
        }
        for row in shown.to_dict("records")
    ]
    columns = ["party", "item", "amount", "proposal", "confidence", "review"]
    return records_table(rows, [*columns, "true_code"] if "true_code" in table else columns, missing="")
