"""`acctax`: the main job on the embedded default, and the UI with the instance inside ACCTAX_HOME.

acctax materialize   # demo into landing (if empty), every landed month through the data layer, training,
                     # then proposals for the months that came without account codes
acctax predict --months 2025-01 [--format xlsx]   # proposals + export file for those months
acctax backfill --months 2024-01:2024-06 [--wait]   # a Dagster backfill of the data layer, run by the daemon
acctax champion [--set N]   # list the registered candidates / move the `champion` alias (rollback)
acctax ui            # dagster dev on 127.0.0.1 with DAGSTER_HOME=$ACCTAX_HOME/dagster
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from acctax_assets.cli_daemon import backfill, expand_months, ui
from acctax_assets.paths import AcctaxHome

log = logging.getLogger(__name__)
# The console only shows warnings from Dagster itself; every event still goes to the instance's event log.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def landed_months(home: AcctaxHome) -> tuple[list[str], list[str]]:
    """Partition keys that have landing files, and files that map to no partition."""
    from acctax_assets.defs.partitions import ledger_months
    from acctax_assets.defs.resources import LedgerSettings

    scan = LedgerSettings(home=str(home.root)).landing_months().scan(set(ledger_months.get_partition_keys()))
    return sorted(scan.months), sorted(scan.unmapped.values())


def materialize(args: argparse.Namespace) -> int:
    """The whole graph on the local instance: the data layer for every landed month (or the requested ones), the
    proposal feedback of months whose reviewed export came back, then the training chain once over the months whose
    blocking checks passed, then proposals for uncoded months.
    A month that failed is left out of training, listed with its failing check at the end, and makes the exit
    status 1 so scripts notice."""
    home = AcctaxHome.from_env().ensure()
    from dagster import DagsterInstance

    from acctax_assets import demo
    from acctax_assets.defs.materialization_records import month_status
    from acctax_assets.ledger.landing import list_landing_files

    if not list_landing_files(home.landing) and not args.no_demo:
        log.info("Landing folder %s is empty: generating the demo ledger", home.landing)
        demo.main(["--out", str(home.landing), "--unlabelled-months", "1"])
    months, unmapped = landed_months(home)
    for problem in unmapped:
        log.warning("Not ingested: %s", problem)
    if args.months:
        wanted = set(expand_months(args.months))
        missing = sorted(wanted - set(months))
        if missing:
            log.error("No landing files for %s in %s", [m[:7] for m in missing], home.landing)
            return 2
        months = sorted(wanted)
    if not months:
        log.error("Nothing to materialize: no ledger file in %s maps to a partition", home.landing)
        return 2
    failed: dict[str, str] = {}
    unlabelled = []
    with DagsterInstance.get() as instance:
        for month in months:
            result = run_job(instance, "ledger_data_job", month[:7], partition_key=month)
            if not result.success:
                failed[month] = _failure_reason(result)
            elif _labelled_rows(result) == 0:
                unlabelled.append(month)
        log.info(
            "Data layer: %d month(s) into %s; instance at %s",
            len(months) - len(failed),
            home.storage,
            home.dagster_home,
        )
        if failed:
            log.error(
                "Failed months (training goes on without them): %s — `acctax ui` shows their run logs",
                [m[:7] for m in failed],
            )
        measure_feedback(instance, months)
        if args.no_train:
            return 1 if failed else 0
        release_stale_training_slots(instance)
        result = run_job(instance, "training_job", "training")
        for materialization in result.asset_materializations_for_node("account_classifier"):
            figures = {
                k: materialization.metadata[k].value
                for k in ("test_accuracy", "test_f1_weighted", "test_f1_macro", "wall_seconds")
                if k in materialization.metadata
            }
            log.info("account_classifier %s: %s", materialization.metadata["version"].value, figures)
        if not result.success:
            log.error("Training failed — open the UI (`acctax ui`) to read the run logs")
            return 1
        from acctax_assets.defs.metadata_format import table_text

        served = result.asset_materializations_for_node("served_classifier")[0].metadata
        log.info("Comparison of candidates (served_classifier):\n%s", table_text(served["comparison"]))
        log.info("%s", served["reason"].value)
        code = predict_months(instance, unlabelled, "csv")
        if failed:
            excluded = month_status(instance, list(failed)).excluded
            for month, reason in failed.items():
                log.error("Left out of training: %s: %s", month[:7], excluded.get(month, reason))
            return 1
        return code


def _failure_reason(result: Any) -> str:
    """The first step failure of a failed run, in one line (a failed blocking check names itself here)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return "run failed"


def release_stale_training_slots(instance: Any) -> None:
    """Free `training` pool slots still held by runs that ended (a process killed mid-training never released
    its slot); a slot held by a live run is reported, because this training waits for it."""
    from acctax_assets.defs.account_classifier import TRAINING_POOL
    from acctax_assets.defs.dagster_internals import free_pool_slots_of_ended_runs

    freed, live = free_pool_slots_of_ended_runs(instance, TRAINING_POOL)
    for run_id in freed:
        log.info("Freed the training pool slot of ended run %s", run_id)
    for run_id, status in live:
        log.warning(
            "Training pool held by run %s (%s): this training waits for it. If that run is dead, terminate it in the UI (`acctax ui`)",
            run_id,
            status,
        )


def measure_feedback(instance: Any, months: Sequence[str]) -> None:
    """proposal_feedback for the months whose cleaned lines came back after their proposals (what
    proposal_feedback_sensor would request, so the daemon finds nothing left to do)."""
    from acctax_assets.defs.feedback_sensor import months_reviewed_since_proposals

    for month in sorted(set(months_reviewed_since_proposals(instance)) & set(months)):
        result = run_job(instance, "feedback_job", f"feedback {month[:7]}", partition_key=month)
        if result.success:
            figures = result.asset_materializations_for_node("proposal_feedback")[0].metadata
            log.info(
                "%s: %s; changed among reviewed %s, among auto-accepted %s",
                month[:7],
                figures["status"].value,
                figures["changed_share_reviewed"].value if "changed_share_reviewed" in figures else "n/a",
                figures["changed_share_auto"].value if "changed_share_auto" in figures else "n/a",
            )


def _labelled_rows(result: Any) -> int:
    cleaned = [
        m for m in result.asset_materializations_for_node("cleaned_ledger") if m.asset_key.path == ["cleaned_ledger"]
    ]
    return int(cleaned[0].metadata["labelled_rows"].value) if cleaned else 0


def predict_months(instance: Any, months: Sequence[str], fmt: str) -> int:
    """ledger_predictions + prediction_export for each month; logs the review queue and the file written."""
    failed = []
    for month in months:
        config = {**QUIET_RUN_CONFIG, "ops": {"prediction_export": {"config": {"format": fmt}}}}
        result = run_job(instance, "prediction_job", f"predictions {month[:7]}", partition_key=month, run_config=config)
        if not result.success:
            failed.append(month[:7])
            continue
        predicted = result.asset_materializations_for_node("ledger_predictions")[0].metadata
        exported = result.asset_materializations_for_node("prediction_export")[0].metadata
        log.info(
            "%s: served by %s: %d rows, to review %s, %.0f rows/s -> %s",
            month[:7],
            predicted["served_model"].value,
            predicted["rows"].value,
            predicted["review_share"].value,
            predicted["rows_per_second"].value,
            exported["path"].value,
        )
    if failed:
        log.error("Predictions failed for %s — open the UI (`acctax ui`) to read the run logs", failed)
        return 1
    return 0


def predict(args: argparse.Namespace) -> int:
    """Proposals for the requested months (their data layer must be materialized and an adapter accepted)."""
    AcctaxHome.from_env().ensure()
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        return predict_months(instance, expand_months(args.months), args.format)


def run_job(
    instance: Any, job_name: str, label: str, partition_key: str | None = None, run_config: dict[str, Any] | None = None
) -> Any:
    """Execute one job in this process on the local instance, as a run of the `acctax_assets` code location (listed
    under its job in the UI like a launched run); log its outcome and any check that did not pass."""
    from acctax_assets.code_location import execute_in_this_process

    result = execute_in_this_process(instance, job_name, run_config or QUIET_RUN_CONFIG, partition_key)
    log.info("%s %s (run %s)", label, "ok" if result.success else "FAILED", result.run_id)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            log.warning(
                "%s check %s on %s did not pass (%s): %s",
                label,
                evaluation.check_name,
                evaluation.asset_key.to_user_string(),
                evaluation.severity.value,
                {k: v.value for k, v in evaluation.metadata.items()},
            )
    return result


def champion(args: argparse.Namespace) -> int:
    """List the registered candidates with their aliases and figures, or move `champion` to another version
    (a rollback: the next ledger_predictions run serves it)."""
    from acctax_assets.defs.ml_resources import tracking_uri
    from acctax_assets.errors import AcctaxError
    from acctax_assets.ml.serving.model_registry import CHAMPION, ModelRegistry

    registry = ModelRegistry(tracking_uri(AcctaxHome.from_env().ensure()))
    try:
        versions = registry.versions()
        if args.set is None:
            if not versions:
                log.info("No candidate is registered yet: run `acctax materialize` (training_job promotes one)")
            for entry in versions:
                figures = ", ".join(
                    f"{k}={entry.figures[k]:.3f}"
                    for k in ("valid_f1_macro", "test_f1_macro", "test_accuracy")
                    if k in entry.figures
                )
                state = "" if entry.path.is_dir() else " [files missing]"
                log.info(
                    "v%s %s %s ledger_dataset %s %s%s%s",
                    entry.registry_version,
                    entry.kind,
                    entry.version,
                    entry.dataset_version,
                    figures,
                    f" <- {', '.join(entry.aliases)}" if entry.aliases else "",
                    state,
                )
            return 0
        chosen = next((entry for entry in versions if entry.registry_version == str(args.set)), None)
        if chosen is None:
            log.error(
                "Registry version %s does not exist (versions: %s)", args.set, [e.registry_version for e in versions]
            )
            return 2
        if not chosen.path.is_dir():
            log.error(
                "Registry version %s (%s) has no files at %s; pick a version whose files exist",
                args.set,
                chosen.label,
                chosen.path,
            )
            return 2
        before = next((entry.label for entry in versions if CHAMPION in entry.aliases), "none")
        registry.set_alias(CHAMPION, chosen.registry_version)
    except AcctaxError as exc:
        log.error("%s", exc)
        return 1
    log.info("champion: %s -> %s; the next ledger_predictions run serves it", before, chosen.label)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("acctax_assets").setLevel(logging.INFO)
    parser = argparse.ArgumentParser(
        prog="acctax", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "materialize",
        help="demo ledger (if landing is empty), every landed month, training, then proposals for uncoded months",
    )
    run.add_argument(
        "--months",
        nargs="*",
        metavar="YYYY-MM[:YYYY-MM]",
        help="only these months or ranges (default: every month with files)",
    )
    run.add_argument("--no-demo", action="store_true", help="never generate the demo, even if landing is empty")
    run.add_argument(
        "--no-train", action="store_true", help="stop after the data layer (no dataset, tokenizer or training)"
    )
    run.set_defaults(handler=materialize)
    proposals = commands.add_parser(
        "predict", help="proposed account codes and the export file for months already landed"
    )
    proposals.add_argument("--months", nargs="+", required=True, metavar="YYYY-MM[:YYYY-MM]", help="months or ranges")
    proposals.add_argument(
        "--format", choices=("csv", "xlsx"), default="csv", help="export file format (default csv, UTF-8 with BOM)"
    )
    proposals.set_defaults(handler=predict)
    backfills = commands.add_parser(
        "backfill", help="a Dagster backfill of a range of months, launched by the daemon (see `acctax ui`)"
    )
    backfills.add_argument("--months", nargs="+", required=True, metavar="YYYY-MM[:YYYY-MM]", help="months or ranges")
    backfills.add_argument("--job", choices=("ledger_data_job", "prediction_job"), default="ledger_data_job")
    backfills.add_argument("--wait", action="store_true", help="follow the runs until all finished (needs the daemon)")
    backfills.add_argument("--timeout", type=float, default=1800.0, help="seconds --wait waits (default 1800)")
    backfills.set_defaults(handler=backfill)
    aliases = commands.add_parser("champion", help="list registered candidates, or move the champion alias (rollback)")
    aliases.add_argument("--set", metavar="N", help="registry version to serve from now on")
    aliases.set_defaults(handler=champion)
    serve = commands.add_parser("ui", help="start the Dagster UI and daemon on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(handler=ui)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
