"""Hand-made feature frames, split rows and model outputs the ML and export unit tests share, and one January file
through the real reader, cleaning and features."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.confidence import review_threshold
from acctax_assets.ml.serving.predictions import Predictions
from acctax_assets_tests.support.ledger_files import write_ledger

# The prediction tests' registry (slots 3-7 spare), review threshold and served model.
LABEL_SLOTS = LabelSlots(
    max_classes=8,
    codes=("81100", "82200", "83000"),
    names={"81100": "복리후생비", "82200": "차량유지비", "83000": "소모품비"},
)
THRESHOLD = review_threshold([0.95, 0.9, 0.85, 0.3], [True, True, True, False], target_accuracy=0.9, min_auto_rows=1)
SERVED = "ensemble 20250101T000000-abcd1234 (registry v3)"


def feature_frame(rows: int = 2) -> pd.DataFrame:
    """Up to two rows of ledger_features: one with every text field, one with nulls, blanks and a negative amount."""
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-03-05"] * rows),
            "party_name": pd.array(["스타벅스 | 강남점", None][:rows], dtype="string"),
            "item": pd.array(["커피", "녹차"][:rows], dtype="string"),
            "desc": pd.array(["직원 간식", ""][:rows], dtype="string"),
            "total_amount": [11000, -2200][:rows],
            "is_month_end": [False, True][:rows],
            "acct_code": pd.array(["81100", "81100"][:rows], dtype="string"),
            "acct_name": pd.array(["복리후생비", "복리후생비"][:rows], dtype="string"),
            "source_file": ["ledger_2024-03.csv"] * rows,
            "source_row": list(range(2, rows + 2)),
        }
    )


def rows_for(counts: dict[str, int], months: int = 1) -> pd.DataFrame:
    """Labelled rows as the splits take them: `counts` rows per code, distinct texts, spread over `months` months."""
    codes = [code for code, count in counts.items() for _ in range(count)]
    return pd.DataFrame(
        {
            "text": [f"row {i} of {code}" for i, code in enumerate(codes)],
            "code": codes,
            "name": ["n"] * len(codes),
            "month": [f"2024-{(i % months) + 1:02d}-01" for i in range(len(codes))],
            "source_file": ["f.csv"] * len(codes),
            "source_row": range(len(codes)),
        }
    )


def month_of(
    tmp_path: Path, rows: list[dict[str, str]], columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(raw, features, rejected) of one January file, through the real reader, cleaning and features."""
    landing = tmp_path / "landing"
    path = write_ledger(landing / "ledger_2024-01.csv", rows, columns=columns)
    raw = combine([read_ledger_file(path, load_column_map(), landing)])
    result = clean_ledger(raw, "2024-01-01", CleaningRules())
    return raw, build_features(result.cleaned), result.rejected


def predictions_for(count: int, confidence: list[float]) -> Predictions:
    """Top-3 proposals (slots 0, 1, 2) for `count` rows, the first with the given confidence per row."""
    ids = np.tile(np.array([[0, 1, 2]]), (count, 1))
    probs = np.array([[c, (1 - c) * 0.6, (1 - c) * 0.4] for c in confidence], dtype=np.float32)
    return Predictions(ids=ids, probs=probs, seconds=0.5)
