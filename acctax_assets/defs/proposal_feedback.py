"""`proposal_feedback`: the production figure of the served model, from what the clerk did with a month's proposals
(figures in ml/evaluation/feedback.py).

`proposal_feedback_sensor` requests it (feedback_job) once a month that received proposals has a new `cleaned_ledger`,
i.e. its reviewed export or final export landed and was cleaned; a month without proposals records that and nothing
else. The page shows the month's figures and, over every month measured so far (read back from the instance), a table
and a plot of the shares changed. The figures also go into MLflow as metrics of the training run of the model that
proposed the month (else of the current champion; with neither, the page says MLflow was skipped), one step per month
(YYYYMM).

Which model served the month is read from the month's latest `ledger_predictions` metadata (`registry_version`):
new codes are the corrected-to codes outside that version's label slots. Without it (no proposals made by this
instance, or a version no longer in the registry) they are the corrected-to codes absent from every earlier month's
`cleaned_ledger`; the metadata says which (`new_codes_source`).
"""

from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from acctax_assets.atomic_writes import replace_file
from acctax_assets.defs.dagster_internals import latest_data_versions
from acctax_assets.defs.io_managers import stored_column
from acctax_assets.defs.materialization_records import (
    CLEANED,
    CLEANED_VERSION,
    FEEDBACK,
    PREDICTIONS,
    latest_metadata,
    latest_metadata_by_month,
)
from acctax_assets.defs.metadata_format import frame_table, inline_image
from acctax_assets.defs.ml_resources import ModelRegistryResource
from acctax_assets.defs.partitions import explain_months, ledger_months
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.evaluation.feedback import (
    FeedbackColumnsError,
    ProposalFeedback,
    codes_in,
    feedback_figures,
    history_table,
    share_text,
)
from acctax_assets.ml.evaluation.reports import feedback_png
from acctax_assets.ml.serving.model_registry import (
    ModelRegistry,
    ModelRegistryError,
    NoChampionError,
    RegisteredCandidate,
)

NO_PROPOSALS = "no proposals in this month"
PLOT = "changed_share.png"


def mlflow_step(month: str) -> int:
    """The month as YYYYMM, the step of the feedback metrics: readable on MLflow's x axis and ordered by month."""
    day = date.fromisoformat(month)
    return day.year * 100 + day.month


def feedback_metrics(figures: ProposalFeedback) -> dict[str, float]:
    """The month's figures for MLflow; a share of no lines is left out rather than logged as 0."""
    metrics = {"feedback_slipped_errors": float(figures.slipped_errors)}
    if figures.changed_share_reviewed is not None:
        metrics["feedback_changed_share_reviewed"] = figures.changed_share_reviewed
    if figures.changed_share_auto is not None:
        metrics["feedback_changed_share_auto"] = figures.changed_share_auto
    return metrics


def _month_version(
    registry: ModelRegistry, version: object, context: AssetExecutionContext
) -> RegisteredCandidate | None:
    """The registry version that proposed the month's codes, as `ledger_predictions` recorded it."""
    if not version:
        return None
    try:
        return registry.version(str(version))
    except ModelRegistryError as exc:
        context.log.warning(f"the model that proposed this month (registry v{version}) cannot be read: {exc}")
        return None


def _known_codes(proposer: RegisteredCandidate | None, month: str) -> tuple[set[str], str]:
    """The codes the month's serving model could propose, and where they were read."""
    if proposer is not None and (proposer.path / LABEL_SLOTS_FILE).exists():
        label_slots = LabelSlots.read(proposer.path / LABEL_SLOTS_FILE)
        return set(label_slots.codes), f"label registry of {proposer.label}, which proposed this month's codes"
    earlier = [key for key in ledger_months.get_partition_keys() if key < month]
    return (
        codes_in(list(stored_column("cleaned_ledger", earlier, "acct_code").values())),
        "codes absent from every earlier month's cleaned_ledger (the model that proposed this month is unknown "
        "or its files are gone)",
    )


def _log_to_mlflow(
    registry: ModelRegistry, proposer: RegisteredCandidate | None, figures: ProposalFeedback, month: str
) -> str:
    """Log the month's figures into the training run of the model that proposed them (else of the champion); says
    what happened, for the metadata and the run log."""
    target = proposer
    if target is None:
        try:
            target = registry.resolve(check_files=False)
        except NoChampionError:
            return "skipped: no champion in the MLflow registry, so no run to log into"
    if target.run_id is None:
        return f"skipped: {target.label} was registered without an MLflow run"
    step = mlflow_step(month)
    registry.log_metrics(target.run_id, feedback_metrics(figures), step)
    return f"logged into MLflow run {target.run_id} of {target.label}, step {step}"


def _history(context: AssetExecutionContext, figures: ProposalFeedback) -> pd.DataFrame:
    """Every month measured so far (their latest materializations) with this month's new figures in place."""
    months = {
        month: metadata
        for month, metadata in latest_metadata_by_month(context.instance, FEEDBACK).items()
        if month != context.partition_key and "proposed_lines" in metadata
    }
    months[context.partition_key] = figures.counts()
    return history_table(months)


@asset(partitions_def=ledger_months, group_name="feedback", kinds={"pandas", "mlflow"})
@explain_months
def proposal_feedback(
    context: AssetExecutionContext,
    cleaned_ledger: pd.DataFrame,
    settings: LedgerSettings,
    model_registry: ModelRegistryResource,
) -> MaterializeResult:
    """Share of proposals the clerk changed (reviewed and auto-accepted), errors slipped through, new codes. Measured
    once a month that received proposals comes back reviewed, so it is grey for coded months and for months whose
    reviewed export has not landed yet."""
    month = context.partition_key
    try:
        figures = feedback_figures(cleaned_ledger)
    except FeedbackColumnsError as exc:
        raise Failure(description=f"proposal_feedback {month[:7]}: {exc}") from exc
    # What proposal_feedback_sensor compares with the month's current cleaned_ledger.
    measured = {CLEANED_VERSION: latest_data_versions(context.instance, CLEANED, [month]).get(month, "")}
    if not figures.has_proposals:
        context.log.info(f"{month[:7]}: {NO_PROPOSALS}")
        return MaterializeResult(
            metadata={"status": NO_PROPOSALS, "lines": figures.lines, "proposed_lines": 0, **measured}
        )
    registry = model_registry.registry()
    predictions = latest_metadata(context.instance, PREDICTIONS, month)
    proposer = _month_version(registry, predictions.get("registry_version"), context)
    known, source = _known_codes(proposer, month)
    new_codes = figures.new_codes(known)
    try:
        logged = _log_to_mlflow(registry, proposer, figures, month)
    except ModelRegistryError as exc:
        # The figures stay on this page; re-materializing the month logs them once MLflow is reachable.
        logged = f"failed: {exc}"
        context.log.warning(f"{month[:7]}: feedback metrics not logged to MLflow: {exc}")
    context.log.info(f"{month[:7]}: MLflow {logged}")
    history = _history(context, figures)
    plot = replace_file(
        settings.acctax_home.storage / "proposal_feedback" / month[:7] / PLOT, lambda path: feedback_png(history, path)
    )
    return MaterializeResult(
        metadata={
            "status": f"{figures.proposed_lines} lines with proposals",
            **measured,
            "lines": figures.lines,
            **figures.counts(),
            "changed_share_reviewed": share_text(figures.changed_reviewed, figures.reviewed_lines),
            "changed_share_auto": share_text(figures.slipped_errors, figures.auto_accepted_lines),
            "slipped_share": share_text(figures.slipped_errors, figures.proposed_lines) + " of lines with proposals",
            "coded_before_proposal": figures.coded_before_proposal,
            "new_codes": list(new_codes) or "none",
            "new_codes_source": source,
            "served_model": proposer.label if proposer else str(predictions.get("served_model", "unknown")),
            "mlflow": logged,
            "history": frame_table(history),
            "history_plot": inline_image(
                context.instance, plot, "share of proposals changed per month", "proposal_feedback", month[:7]
            ),
            "path": MetadataValue.path(str(plot)),
        }
    )
