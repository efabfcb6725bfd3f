"""model_text: each month serialized once in the data chain, recording its text features; ledger_dataset only
concatenates, refuses months serialized with other features, and leaves out months whose text is stale."""

import re

import pandas as pd
from dagster import AssetKey, DagsterInstance

from acctax_assets.definitions import defs
from acctax_assets.defs.materialization_records import MODEL_TEXT, latest_metadata, month_status
from acctax_assets.defs.model_text import TEXT_FEATURES
from acctax_assets.ml.data.serialization import DEFAULT_TEXT_FEATURES, MODEL_TEXT_COLUMNS
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import JANUARY, failure_text, run_job, run_month, stored
from acctax_assets_tests.support.ledger_files import UNCODED_COLUMNS, ledger_rows, write_ledger

FEBRUARY = "2024-02-01"


def land_months(home: AcctaxHome) -> None:
    """January coded with two accounts (distinct items, so the split keeps them apart), February uncoded."""
    coded = [
        {**row, "item": f"{'커피' if index % 2 else '택시'} {index}", "acct_code": "81100" if index % 2 else "82200"}
        for index, row in enumerate(ledger_rows(40))
    ]
    write_ledger(home.landing / "ledger_2024-01.csv", coded)
    uncoded = [{**row, "date": "20240215"} for row in ledger_rows(10)]
    write_ledger(home.landing / "ledger_2024-02.csv", uncoded, columns=UNCODED_COLUMNS)


def test_each_month_is_serialized_once_with_its_labelled_rows_and_tagged(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    land_months(home)
    for month in (JANUARY, FEBRUARY):
        result = run_month(instance, month)
        assert result.success, failure_text(result)
    january = stored(home, "model_text", JANUARY)
    assert list(january.columns) == list(MODEL_TEXT_COLUMNS)
    assert len(january) == 40 and set(january["code"]) == {"81100", "82200"}
    assert january["text"].str.startswith("co:").all() and not january["text"].str.contains("81100").any()
    assert set(january["month"]) == {JANUARY}
    assert stored(home, "model_text", FEBRUARY).empty, "an uncoded month gives no training text"
    for month in (JANUARY, FEBRUARY):
        assert latest_metadata(instance, MODEL_TEXT, month)[TEXT_FEATURES] == list(DEFAULT_TEXT_FEATURES)


def test_the_dataset_concatenates_model_text_and_refuses_other_text_features(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    land_months(home)
    assert run_month(instance, JANUARY).success
    stratified = {"ops": {"ledger_dataset": {"config": {"split_strategy": "stratified"}}}}  # one labelled month
    built = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=stratified)
    assert built.success, failure_text(built)
    metadata = built.asset_materializations_for_node("ledger_dataset")[0].metadata
    assert metadata["months"].value == ["2024-01"]
    assert sum(metadata[f"{split}_rows"].value for split in ("train", "valid", "test")) == 40

    other = {"resources": {"model_settings": {"config": {"text_features": ["party_name", "item"]}}}}
    refused = run_job(instance, "training_job", assets=["ledger_dataset"], run_config=other)
    assert not refused.success
    message = failure_text(refused)
    assert "['2024-01']" in message and "re-materialize model_text" in message, message


def test_a_month_whose_text_is_older_than_its_features_is_left_out(home: AcctaxHome, instance: DagsterInstance) -> None:
    land_months(home)
    assert run_month(instance, JANUARY).success
    assert month_status(instance, [JANUARY]).usable == [JANUARY]
    assert run_job(instance, "ledger_data_job", partition_key=JANUARY, assets=["ledger_features"]).success
    status = month_status(instance, [JANUARY])
    assert status.usable == [] and "model_text not materialized" in status.excluded[JANUARY]
    assert isinstance(stored(home, "model_text"), pd.DataFrame), "the stale text stays stored, only left out"


def test_a_dataset_over_months_without_model_text_names_model_text_as_the_missing_step(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    """The data chain ran up to ledger_features only: ledger_dataset reads model_text, so that is the step its fix
    names (an upstream asset of ledger_dataset in the graph), with the job that runs it."""
    land_months(home)
    up_to_features = ["raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features"]
    assert run_job(instance, "ledger_data_job", partition_key=JANUARY, assets=up_to_features).success
    built = run_job(instance, "training_job", assets=["ledger_dataset"])
    assert not built.success
    message = failure_text(built)
    assert "no labelled rows in the training window" in message, message
    assert "Fix: materialize model_text for ['2024-01'] (run ledger_data_job for those months)" in message, message
    assert "ledger_features for labelled months" not in message, message
    named = AssetKey(re.search(r"Fix: materialize (\w+) for", message).group(1))
    assert named in defs.get_repository_def().asset_graph.get(AssetKey("ledger_dataset")).parent_keys
