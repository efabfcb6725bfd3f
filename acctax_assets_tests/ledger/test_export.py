"""The office export: every raw row kept beside its proposal, rejected ones flagged, in CSV and XLSX, and no row
ever dropped."""

from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.ledger.export import office_layout, write_export
from acctax_assets.ml.serving.predictions import prediction_table
from acctax_assets_tests.support.ledger_files import ledger_rows
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS, SERVED, THRESHOLD, month_of, predictions_for


def test_office_export_keeps_every_raw_row_and_flags_rejected_ones(tmp_path: Path) -> None:
    rows = ledger_rows(4)
    rows[1]["date"] = "not a date"
    raw, features, rejected = month_of(tmp_path, rows)
    predictions = prediction_table(features, predictions_for(3, [0.99, 0.2, 0.99]), LABEL_SLOTS, THRESHOLD, SERVED)
    layout = office_layout(raw, predictions, rejected)
    assert len(layout) == len(raw) == 4
    assert layout["원본행"].tolist() == [2, 3, 4, 5]
    assert layout["계정과목코드"].tolist()[0] == "81100" and pd.isna(layout["계정과목코드"].iloc[1])
    assert layout["원계정과목코드"].tolist() == ["81100"] * 4, "the clerk's own codes are kept beside the proposal"
    assert layout["검토필요"].tolist() == ["N", "Y", "Y", "N"]
    assert layout["검토사유"].iloc[1] == "rejected:invalid_date" and layout["검토사유"].iloc[2] == "low_confidence"
    assert layout.columns[0] == "전표일자" and "거래처명" in layout.columns
    assert layout["추천모델"].iloc[0] == SERVED and pd.isna(layout["추천모델"].iloc[1]), (
        "the proposing model is named; rejected rows have none"
    )

    for fmt in ("csv", "xlsx"):
        path = write_export(layout, tmp_path / "exports" / f"proposals.{fmt}", fmt)
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str) if fmt == "csv" else pd.read_excel(path, dtype=str)
        assert back.shape == layout.shape and back["검토필요"].tolist() == ["N", "Y", "Y", "N"]
    assert path.read_bytes()[:2] == b"PK" and not list((tmp_path / "exports").glob(".*"))


def test_office_export_refuses_to_drop_rows(tmp_path: Path) -> None:
    raw, features, rejected = month_of(tmp_path, ledger_rows(3))
    predictions = prediction_table(features, predictions_for(3, [0.9] * 3), LABEL_SLOTS, THRESHOLD, SERVED).iloc[:2]
    with pytest.raises(ValueError, match="1 raw rows are neither"):
        office_layout(raw, predictions, rejected)
