"""Bad input: account_classifier materialized with its upstream before any baseline exists (a UI selection, or
`dagster asset materialize --select ledger_dataset,tokenized_dataset,account_classifier`). The adapter is stored,
classifier_beats_baseline says there is nothing to compare with yet, and the run succeeds."""

from collections.abc import Callable

import pytest
from dagster import AssetCheckSeverity, DagsterInstance

from acctax_assets.defs.classifier_checks import NO_BASELINE
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.faults.harness import STRATIFIED, TEMPLATE_CODES
from acctax_assets_tests.support.dagster_runs import failure_text, run_job
from acctax_assets_tests.support.training_runs import run_config as tiny_training_config


@pytest.mark.slow
def test_classifier_without_any_baseline_warns_and_the_run_succeeds(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None]
) -> None:
    restore(*TEMPLATE_CODES)
    config = tiny_training_config()
    config["ops"].update(STRATIFIED["ops"])
    result = run_job(
        instance,
        "training_job",
        assets=["ledger_dataset", "tokenized_dataset", "account_classifier"],
        run_config=config,
    )
    assert result.success, failure_text(result)
    assert result.asset_materializations_for_node("account_classifier"), "the adapter is stored"
    assert not (home.storage / "baseline_classifier").exists()
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    comparison = checks["classifier_beats_baseline"]
    assert (comparison.passed, comparison.severity) == (False, AssetCheckSeverity.WARN)
    assert comparison.description == NO_BASELINE
    assert comparison.metadata["baseline_version"].value == "none"
