"""Fixtures of the fault-injection suite: a template home whose months (and tokenized dataset) were materialized
once by the real jobs. A test copies what it needs into its own fresh ACCTAX_HOME, so a fault hits a month that
was materialized before, without paying for that run again (each test's instance is the top conftest's)."""

import shutil
from collections.abc import Callable

import pytest
from dagster import instance_for_test

from acctax_assets.ledger.schema import LABEL_COLUMN, LABEL_NAME_COLUMN
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.faults.harness import STRATIFIED, TEMPLATE_CODES
from acctax_assets_tests.support.dagster_runs import PER_MONTH_ASSETS, run_job, run_month, scratch_home
from acctax_assets_tests.support.ledger_files import BASE_ROW, UNCODED_COLUMNS, write_ledger

NAMES = {"81100": "복리후생비", "82200": "여비교통비", "83000": "소모품비"}
DIRECTORY_ASSETS = ("ledger_dataset", "tokenized_dataset")


def month_rows(month: str, codes: dict[str, int], uncoded_rows: int = 10) -> list[dict[str, str]]:
    """Valid rows of one month with distinct texts (identical texts would be dropped from valid/test as leakage)."""
    labels = [code for code, count in codes.items() for _ in range(count)] or [""] * uncoded_rows
    return [
        {
            **BASE_ROW,
            "date": f"{month[:4]}{month[5:7]}15",
            "voucher_key": f"{month[:7]}-{number:05d}",
            "item": f"{NAMES.get(code, '미분류')} 품목 {number}",
            LABEL_COLUMN: code,
            LABEL_NAME_COLUMN: NAMES.get(code, ""),
        }
        for number, code in enumerate(labels, start=1)
    ]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> AcctaxHome:
    """Three months landed and materialized by ledger_data_job, then ledger_dataset (stratified: two labelled
    months) and tokenized_dataset."""
    with scratch_home(tmp_path_factory.mktemp("template") / "acctax") as home, instance_for_test() as test_instance:
        for month, codes in TEMPLATE_CODES.items():
            write_ledger(
                home.landing / f"ledger_{month[:7]}.csv",
                month_rows(month, codes),
                columns=None if codes else UNCODED_COLUMNS,
            )
            assert run_month(test_instance, month).success, month
        assert run_job(test_instance, "training_job", assets=DIRECTORY_ASSETS, run_config=STRATIFIED).success
    return home


@pytest.fixture
def restore(home: AcctaxHome, template: AcctaxHome) -> Callable[..., None]:
    """`restore(*months)`: copy those template months (landing file and stored tables) into this test's home."""

    def copy(*months: str) -> None:
        for month in months:
            shutil.copy2(template.landing / f"ledger_{month[:7]}.csv", home.landing)
            for asset in PER_MONTH_ASSETS:
                (home.storage / asset).mkdir(parents=True, exist_ok=True)
                shutil.copy2(template.storage / asset / f"{month}.parquet", home.storage / asset)

    return copy


@pytest.fixture
def tokenized_home(home: AcctaxHome, template: AcctaxHome, restore: Callable[..., None]) -> AcctaxHome:
    """This test's home with every template month, the label registry, ledger_dataset and tokenized_dataset."""
    restore(*TEMPLATE_CODES)
    for asset in DIRECTORY_ASSETS:
        shutil.copytree(template.storage / asset, home.storage / asset)
    shutil.copy2(template.label_slots, home.storage)
    return home
