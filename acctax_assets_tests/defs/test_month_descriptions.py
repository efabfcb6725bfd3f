"""The asset pages say what a grey month means: the partitions run to the last finished month, landed or not."""

from dagster import AssetKey

from acctax_assets.definitions import defs
from acctax_assets.defs.partitions import MISSING_MONTHS, ledger_months


def description(key: AssetKey) -> str:
    return defs.get_assets_def(key).specs_by_key[key].description or ""


def test_every_monthly_asset_explains_its_grey_months() -> None:
    monthly = [
        key
        for assets_def in defs.resolve_asset_graph().assets_defs
        for key in assets_def.keys
        if assets_def.partitions_def == ledger_months
    ]
    assert len(monthly) == 8
    assert [key.to_user_string() for key in monthly if MISSING_MONTHS not in description(key)] == []


def test_ledger_predictions_says_coded_months_are_not_predicted() -> None:
    assert "A coded month is not predicted" in description(AssetKey("ledger_predictions"))
