"""Cleaned ledger -> model features: calendar (Korean holidays, VAT periods), amounts, and the ordered
feature list the dataset serializer uses. A configured feature the builder does not make is an error,
never a silent drop (ARCHITECTURE.md §3 trap 4)."""

from __future__ import annotations

from collections.abc import Sequence

import holidays
import numpy as np
import pandas as pd

from acctax_assets.errors import FeatureConfigError
from acctax_assets.ledger.schema import LABEL_COLUMN, LABEL_NAME_COLUMN, LABEL_SOURCE, SOURCE_FILE, SOURCE_ROW

# Row identity, always kept first; never model inputs.
IDENTITY_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW, "voucher_key", "journal_key_count")
# Always kept because temporal splits need it; placed among the features when configured as one.
DATE_COLUMN = "date"
# The label, its name and where it came from (the clerk's answer: schema.LABEL_SOURCE, the proposal the clerk saw and
# whether it was in the review queue): carried to the features for training policy and feedback, never model inputs.
LABEL_COLUMNS: tuple[str, ...] = (LABEL_COLUMN, LABEL_NAME_COLUMN, LABEL_SOURCE, "proposed_code", "needs_review")

DEFAULT_FEATURES: tuple[str, ...] = (
    "company_name",
    "company_business_type",
    "company_business_item",
    "taxpayer_type",
    "party_name",
    "business_type",
    "business_item",
    "document_type",
    "vat_type",
    "dr_cr",
    "date",
    "day_type",
    "weekday",
    "is_month_end",
    "quarter",
    "vat_period",
    "amount_sign",
    "amount_log_bucket",
    "vat_rate_bucket",
    "company_relative_size",
    "supply_amount",
    "vat_amount",
    "total_amount",
    "desc",
    "item",
)
# Features whose null rate the quality check watches: a model without them is guessing.
KEY_FEATURES: tuple[str, ...] = ("party_name", "item", "document_type", "vat_type", "total_amount")

_WEEKDAYS = np.array(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], dtype=object)
_VAT_PERIODS = {1: "h1_preliminary", 2: "h1_final", 3: "h2_preliminary", 4: "h2_final"}
_SIZE_BANDS = np.array(["low", "typical", "high", "top"], dtype=object)
MONTH_END_DAYS = 3


def on_korean_holiday(dates: pd.Series) -> pd.Series:
    """Whether each date is a Korean public holiday (substitute holidays included)."""
    years = sorted({int(y) for y in dates.dt.year.dropna().unique()})
    return dates.dt.normalize().isin(pd.DatetimeIndex(list(holidays.country_holidays("KR", years=years))))


def calendar_features(dates: pd.Series) -> pd.DataFrame:
    """Weekday, workday/weekend/holiday, month end, quarter and the Korean VAT filing period."""
    weekday = dates.dt.weekday
    is_holiday = on_korean_holiday(dates)
    day_type = np.where(is_holiday, "holiday", np.where(weekday >= 5, "weekend", "workday"))
    quarter = dates.dt.quarter
    return pd.DataFrame(
        {
            "weekday": _WEEKDAYS[weekday.to_numpy()],
            "is_holiday": is_holiday.to_numpy(),
            "day_type": day_type,
            "is_month_end": (dates.dt.days_in_month - dates.dt.day < MONTH_END_DAYS).to_numpy(),
            "quarter": ("q" + quarter.astype(str)).to_numpy(),
            "vat_period": quarter.map(_VAT_PERIODS).to_numpy(),
        },
        index=dates.index,
    )


def amount_features(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Sign, order of magnitude, VAT rate band and the row's size relative to its company's month."""
    total = cleaned["total_amount"].astype("int64")
    supply = cleaned["supply_amount"].astype("int64")
    vat = cleaned["vat_amount"].astype("int64")
    magnitude = total.abs().to_numpy(dtype="float64")
    log_bucket = np.floor(np.log10(np.maximum(magnitude, 1.0))).astype("int64")
    ratio = np.divide(
        vat.to_numpy(dtype="float64"),
        supply.to_numpy(dtype="float64"),
        out=np.zeros(len(total)),
        where=supply.to_numpy() != 0,
    )
    vat_band = np.where(vat.to_numpy() == 0, "none", np.where(np.abs(ratio - 0.1) <= 0.01, "standard_10pct", "other"))
    rank = (
        pd.Series(magnitude, index=cleaned.index).groupby(cleaned["company_name"].fillna(""), sort=False).rank(pct=True)
    )
    band = np.clip(np.ceil(rank.to_numpy() * 4).astype("int64") - 1, 0, 3)
    return pd.DataFrame(
        {
            "amount_sign": np.sign(total.to_numpy()).astype("int64"),
            "amount_log_bucket": log_bucket,
            "vat_rate_bucket": vat_band,
            "company_relative_size": _SIZE_BANDS[band],
        },
        index=cleaned.index,
    )


def build_features(cleaned: pd.DataFrame, features: Sequence[str] = DEFAULT_FEATURES) -> pd.DataFrame:
    """Identity columns, then `features` in the configured order, then the label columns when present."""
    leaked = [f for f in features if f in LABEL_COLUMNS]
    if leaked:
        raise FeatureConfigError(
            f"features {leaked} are the label, its name or its provenance and would leak it; remove them from the "
            "feature list"
        )
    if len(set(features)) != len(features):
        raise FeatureConfigError(f"feature list names a feature twice: {list(features)}")
    available = pd.concat([cleaned, calendar_features(cleaned["date"]), amount_features(cleaned)], axis=1)
    missing = [f for f in features if f not in available.columns]
    if missing:
        raise FeatureConfigError(
            f"configured features {missing} are not built by the pipeline; available: {sorted(available.columns)}. "
            "Fix: remove them from `features` or map a source column to that name in the column map"
        )
    identity = [c for c in IDENTITY_COLUMNS if c in available.columns]
    if DATE_COLUMN not in features:
        identity.append(DATE_COLUMN)
    labels = [c for c in LABEL_COLUMNS if c in available.columns]
    ordered = identity + list(features) + labels
    # The selection is a new frame already; renumbering it in place spares reset_index's copy of a million rows.
    built = available[ordered]
    built.index = pd.RangeIndex(len(built))
    return built
