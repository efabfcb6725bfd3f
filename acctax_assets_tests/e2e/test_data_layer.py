"""The data layer through real Dagster runs on a test instance: raw → cleaned (+ rejected) → features."""

from dagster import DagsterInstance

from acctax_assets.definitions import defs
from acctax_assets.defs.metadata_format import as_mapping, table_text
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.dagster_runs import JANUARY, failure_text, run_month, stored
from acctax_assets_tests.support.ledger_files import BASE_ROW, UNCODED_COLUMNS, ledger_rows, write_ledger


def dirty_january() -> list[dict[str, str]]:
    rows = ledger_rows(60)
    rows[1]["supply_amount"] = "abc"
    rows[2]["date"] = "20241301"
    rows.append(dict(rows[5]))
    return rows


def test_month_materializes_with_checks_and_metadata(home: AcctaxHome, instance: DagsterInstance) -> None:
    write_ledger(home.landing / "ledger_2024-01.csv", dirty_january(), encoding="cp949")
    result = run_month(instance)
    assert result.success, failure_text(result)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == 10
    assert all(e.passed for e in evaluations.values()), {k: e.metadata for k, e in evaluations.items() if not e.passed}
    cleaned_meta = result.asset_materializations_for_node("cleaned_ledger")[0].metadata
    assert cleaned_meta["rows_in"].value == 61
    assert cleaned_meta["rows_out"].value == 58
    assert as_mapping(cleaned_meta["rejected_by_reason"]) == {"invalid_date": 1, "invalid_amount": 1, "duplicate": 1}
    raw_meta = result.asset_materializations_for_node("raw_ledger")[0].metadata
    assert raw_meta["files"].value == 1 and raw_meta["rows"].value == 61
    assert "cp949" in table_text(raw_meta["source_files"])
    features_meta = result.asset_materializations_for_node("ledger_features")[0].metadata
    assert features_meta["dagster/row_count"].value == 58
    assert "holiday_rate" in features_meta
    assert len(stored(home, "raw_ledger")) == len(stored(home, "cleaned_ledger")) + len(
        stored(home, "rejected_ledger_rows")
    )
    assert set(stored(home, "rejected_ledger_rows")["reject_reason"]) == {"invalid_date", "invalid_amount", "duplicate"}


def test_corrected_file_replaces_the_month_without_double_rows(home: AcctaxHome, instance: DagsterInstance) -> None:
    path = write_ledger(home.landing / "ledger_2024-01.csv", dirty_january())
    write_ledger(home.landing / "ledger_2024-02.csv", ledger_rows(10, date="20240210"))
    assert run_month(instance).success and run_month(instance, "2024-02-01").success
    february_before = (home.storage / "cleaned_ledger" / "2024-02-01.parquet").stat().st_mtime_ns
    write_ledger(path, ledger_rows(60))
    assert run_month(instance).success
    assert len(stored(home, "raw_ledger")) == 60
    assert len(stored(home, "cleaned_ledger")) == 60
    assert stored(home, "rejected_ledger_rows").empty
    assert (home.storage / "cleaned_ledger" / "2024-02-01.parquet").stat().st_mtime_ns == february_before


def test_same_file_dropped_twice_is_not_counted_twice(home: AcctaxHome, instance: DagsterInstance) -> None:
    write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(30))
    write_ledger(home.landing / "ledger_2024-01 (copy).csv", ledger_rows(30))
    result = run_month(instance)
    assert result.success
    assert len(stored(home, "cleaned_ledger")) == 30
    warnings = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not warnings["duplicate_rate"].passed, "half the rows were duplicates: the warning must fire"


def test_unlabelled_month_flows_through(home: AcctaxHome, instance: DagsterInstance) -> None:
    write_ledger(home.landing / "ledger_2024-01.xlsx", ledger_rows(20), columns=UNCODED_COLUMNS)
    assert run_month(instance).success
    features = stored(home, "ledger_features")
    assert len(features) == 20 and features["acct_code"].isna().all()


def test_predictions_without_a_champion_name_the_asset_to_materialize(
    home: AcctaxHome, instance: DagsterInstance
) -> None:
    write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(5), columns=UNCODED_COLUMNS)
    assert run_month(instance).success
    result = defs.resolve_job_def("prediction_job").execute_in_process(
        instance=instance, partition_key=JANUARY, raise_on_error=False
    )
    assert not result.success
    message = failure_text(result)
    assert "carries the alias 'champion'" in message and "Fix: materialize served_classifier" in message
    assert not (home.storage / "ledger_predictions").exists()


def test_month_without_files_fails_with_fix(home: AcctaxHome, instance: DagsterInstance) -> None:
    result = run_month(instance, "2024-05-01")
    assert not result.success
    assert "No landing file belongs to 2024-05" in failure_text(result)


def test_unreadable_file_fails_the_run_naming_file_problem_and_fix(home: AcctaxHome, instance: DagsterInstance) -> None:
    columns = [c for c in BASE_ROW if c not in ("supply_amount", "total_amount")]
    write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(5), columns=columns)
    result = run_month(instance)
    assert not result.success
    message = failure_text(result)
    assert "ledger_2024-01.csv" in message and "supply_amount" in message and "Fix:" in message
    assert not (home.storage / "raw_ledger" / f"{JANUARY}.parquet").exists()


def test_mostly_broken_month_is_blocked_before_features(home: AcctaxHome, instance: DagsterInstance) -> None:
    write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(10, date="20240230"))
    result = run_month(instance)
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "rejected_share" in failed
    assert not (home.storage / "ledger_features" / f"{JANUARY}.parquet").exists()


def test_header_only_month_materializes_empty_tables(home: AcctaxHome, instance: DagsterInstance) -> None:
    write_ledger(home.landing / "ledger_2024-01.csv", [])
    result = run_month(instance)
    assert result.success, failure_text(result)
    assert stored(home, "cleaned_ledger").empty and stored(home, "ledger_features").empty
    raw_meta = result.asset_materializations_for_node("raw_ledger")[0].metadata
    assert raw_meta["rows"].value == 0
