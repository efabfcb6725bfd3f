"""`acctax materialize`: the main job on the local instance inside ACCTAX_HOME, as README runs it."""

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from acctax_assets import cli, demo
from acctax_assets.code_location import CODE_LOCATION
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.training_runs import run_config as tiny_training_config


def test_materialize_every_landed_month_into_the_local_instance(home: AcctaxHome) -> None:
    assert (
        demo.main(["--start", "2024-05", "--end", "2024-07", "--rows-per-month", "600", "--out", str(home.landing)])
        == 0
    )
    assert cli.main(["materialize", "--no-train"]) == 0
    for month in ("2024-05-01", "2024-06-01", "2024-07-01"):
        raw = pd.read_parquet(home.storage / "raw_ledger" / f"{month}.parquet")
        cleaned = pd.read_parquet(home.storage / "cleaned_ledger" / f"{month}.parquet")
        rejected = pd.read_parquet(home.storage / "rejected_ledger_rows" / f"{month}.parquet")
        assert len(raw) == 600 == len(cleaned) + len(rejected)
        assert (home.storage / "ledger_features" / f"{month}.parquet").exists()
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        materialized = instance.get_materialized_partitions(AssetKey("ledger_features"))
    assert materialized == {"2024-05-01", "2024-06-01", "2024-07-01"}


def test_materialize_generates_the_demo_when_landing_is_empty_unless_told_not_to(home: AcctaxHome) -> None:
    assert cli.main(["materialize", "--no-demo"]) == 2
    assert not any(home.landing.iterdir())


def test_requested_month_without_files_is_an_error(home: AcctaxHome) -> None:
    demo.main(["--start", "2024-05", "--end", "2024-05", "--rows-per-month", "100", "--out", str(home.landing)])
    assert cli.main(["materialize", "--months", "2024-05:2024-06"]) == 2


def test_bad_month_spec_exits_with_a_message() -> None:
    with pytest.raises(SystemExit, match="not YYYY-MM"):
        cli.expand_months(["2024-13"])


def test_predict_fails_cleanly_before_any_champion_was_promoted(
    home: AcctaxHome, caplog: pytest.LogCaptureFixture
) -> None:
    demo.main(["--start", "2024-05", "--end", "2024-05", "--rows-per-month", "60", "--out", str(home.landing)])
    assert cli.main(["materialize", "--no-train"]) == 0
    assert cli.main(["predict", "--months", "2024-05"]) == 1
    assert "Predictions failed for ['2024-05']" in caplog.text
    assert not home.exports.exists()


def test_ui_binds_dagster_dev_to_loopback_by_default(home: AcctaxHome, monkeypatch: pytest.MonkeyPatch) -> None:
    """`acctax ui` execs `dagster dev` on 127.0.0.1 with the instance inside ACCTAX_HOME and the code location
    named as the CLI's runs name it."""
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    cli.main(["ui"])
    ((argv, env),) = calls
    assert argv[argv.index("-h") + 1] == "127.0.0.1" and argv[argv.index("-p") + 1] == "3000"
    assert env["DAGSTER_HOME"] == str(home.dagster_home)
    workspace = yaml.safe_load(Path(argv[argv.index("-w") + 1]).read_text(encoding="utf-8"))
    assert workspace["load_from"][0]["python_module"]["location_name"] == CODE_LOCATION, "the CLI runs' location"


@pytest.mark.slow
def test_a_month_failing_its_blocking_checks_is_left_out_and_the_rest_trains(
    home: AcctaxHome, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every line of 2024-06 lacks its date: that month fails rejected_share, the other three train (as many as the
    default temporal split needs), and the exit status says something was left out."""
    demo.main(["--start", "2024-05", "--end", "2024-08", "--rows-per-month", "300", "--out", str(home.landing)])
    (june,) = home.landing.glob("ledger_2024-06.*")
    if june.suffix == ".xlsx":
        frame = pd.read_excel(june, dtype=str, keep_default_na=False)
        frame["전표일자"] = ""
        frame.to_excel(june, index=False)
    else:
        frame = pd.read_csv(june, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame["전표일자"] = ""
        june.write_text(frame.to_csv(index=False), encoding="utf-8")
    run_job = cli.run_job

    def tiny_training(instance, job_name, label, partition_key=None, run_config=None):
        return run_job(
            instance,
            job_name,
            label,
            partition_key,
            tiny_training_config() if job_name == "training_job" else run_config,
        )

    monkeypatch.setattr(cli, "run_job", tiny_training)
    assert cli.main(["materialize", "--no-demo"]) == 1
    assert "Left out of training: 2024-06: rejected_share failed (" in caplog.text
    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        dataset = instance.get_latest_materialization_event(AssetKey("ledger_dataset")).asset_materialization.metadata
        assert instance.get_latest_materialization_event(AssetKey("served_classifier")) is not None
    assert dataset["months"].value == ["2024-05", "2024-07", "2024-08"]
    assert (dataset["train_months"].value, dataset["valid_months"].value, dataset["test_months"].value) == (
        ["2024-05"],
        ["2024-07"],
        ["2024-08"],
    )
    assert "2024-06" in dataset["excluded_months"].value and "rejected_share failed" in dataset["excluded_months"].value
    assert sorted(dataset["month_versions"].value) == ["2024-05-01", "2024-07-01", "2024-08-01"]
