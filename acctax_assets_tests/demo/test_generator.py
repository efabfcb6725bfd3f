"""The demo generator is the test bed for every later stage, so its promises (clean rows are really clean,
each defect kind really occurs, files really come in every encoding) are checked here."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from acctax_assets import demo
from acctax_assets.demo import (
    CHART_OF_ACCOUNTS,
    CODE_START_MONTH,
    DEFECT_KINDS,
    DEMO_COLUMNS,
    DemoMonth,
    file_layout,
    generate_month,
    write_demo_ledger,
)
from acctax_assets.ledger.schema import DOCUMENT_TYPES, DR_CR, KOREAN_HEADERS, TAXPAYER_TYPES, VAT_TYPES

H = KOREAN_HEADERS
YEAR = [f"2024-{m:02d}" for m in range(1, 13)]
ROWS = 2000


@pytest.fixture(scope="module")
def march() -> DemoMonth:
    return generate_month("2024-03", ROWS, 7)


@pytest.fixture(scope="module")
def year_clean() -> pd.DataFrame:
    """Clean rows of a whole year, with the month they were generated for."""
    frames = []
    for month in YEAR:
        generated = generate_month(month, ROWS, 7)
        clean = generated.frame[generated.defects == ""].copy()
        clean["month"] = month
        frames.append(clean)
    return pd.concat(frames, ignore_index=True)


def _clean(generated: DemoMonth) -> pd.DataFrame:
    return generated.frame[generated.defects == ""]


def test_same_seed_same_month_is_identical(march: DemoMonth) -> None:
    again = generate_month("2024-03", ROWS, 7)
    pd.testing.assert_frame_equal(march.frame, again.frame)
    pd.testing.assert_series_equal(march.defects, again.defects)


def test_other_seed_or_month_differs(march: DemoMonth) -> None:
    assert not march.frame.equals(generate_month("2024-03", ROWS, 8).frame)
    assert not march.frame.equals(generate_month("2024-04", ROWS, 7).frame)


def test_headers_and_cell_types(march: DemoMonth) -> None:
    assert list(march.frame.columns) == [*KOREAN_HEADERS.values(), "작성자", "비고"]
    assert list(march.frame.columns) == list(DEMO_COLUMNS)
    assert len(march.frame) == ROWS
    assert march.defects.index.equals(march.frame.index)
    for column in march.frame.columns:
        assert march.frame[column].map(type).eq(str).all(), column
    assert (march.frame["비고"] == "").mean() > 0.8


def test_every_defect_kind_present_at_a_realistic_share(march: DemoMonth) -> None:
    kinds = set(march.defects[march.defects != ""])
    assert kinds == set(DEFECT_KINDS)
    share = (march.defects != "").mean()
    assert 0.01 <= share <= 0.04


def test_defects_look_like_their_kind(march: DemoMonth) -> None:
    frame, defects = march.frame, march.defects
    amounts = [H["supply_amount"], H["vat_amount"], H["total_amount"]]

    dup = frame[defects == "duplicate"]
    for index, row in dup.iterrows():
        earlier = frame.loc[: index - 1]
        assert (earlier == row).all(axis=1).any(), "a duplicate copies an earlier row"
    assert (frame.loc[defects == "missing_date", H["date"]] == "").all()
    assert (frame.loc[defects == "missing_label", [H["acct_code"], H["acct_name"]]] == "").all().all()
    assert pd.to_numeric(frame.loc[defects == "invalid_amount", H["supply_amount"]], errors="coerce").isna().all()
    bad_dates = pd.to_datetime(frame.loc[defects == "invalid_date", H["date"]], format="%Y%m%d", errors="coerce")
    assert bad_dates.isna().all()
    outside = pd.to_datetime(frame.loc[defects == "date_outside_month", H["date"]], format="%Y%m%d")
    assert outside.notna().all() and (outside.dt.strftime("%Y-%m") != "2024-03").all()
    outliers = frame.loc[defects == "outlier", amounts].astype("int64")
    assert (outliers[H["supply_amount"]].abs() >= 10**12).all()
    assert (outliers[H["supply_amount"]] + outliers[H["vat_amount"]] == outliers[H["total_amount"]]).all()
    mismatch = frame.loc[defects == "amount_mismatch", amounts].astype("int64")
    assert (mismatch[H["supply_amount"]] + mismatch[H["vat_amount"]] != mismatch[H["total_amount"]]).all()
    invalid = frame.loc[defects == "invalid_label", H["acct_code"]]
    assert not invalid.isin(list(CHART_OF_ACCOUNTS)).any()


def test_clean_rows_are_clean(march: DemoMonth) -> None:
    clean = _clean(march)
    supply, vat, total = (clean[H[k]].astype("int64") for k in ("supply_amount", "vat_amount", "total_amount"))
    assert (supply + vat == total).all()
    assert clean[H["acct_code"]].str.fullmatch(r"\d{5}").all()
    assert clean[H["acct_code"]].isin(list(CHART_OF_ACCOUNTS)).all()
    assert (clean[H["acct_code"]].map(CHART_OF_ACCOUNTS) == clean[H["acct_name"]]).all()
    dates = pd.to_datetime(clean[H["date"]], format="%Y%m%d")
    assert (dates.dt.strftime("%Y-%m") == "2024-03").all()
    assert not clean.duplicated([H["voucher_key"], H["journal_key_count"]]).any()
    assert clean[H["journal_key_count"]].isin(["1", "2", "3"]).all()
    assert clean[H["voucher_key"]].str.fullmatch(r"2024-03-\d{5,}").all()
    assert (dates.dt.dayofweek < 5).mean() > 0.85


def test_codes_and_tax_fields_follow_the_contract(march: DemoMonth) -> None:
    frame = march.frame
    assert frame[H["vat_type"]].isin(list(VAT_TYPES)).all()
    assert frame[H["document_type"]].isin(list(DOCUMENT_TYPES)).all()
    assert frame[H["taxpayer_type"]].isin(list(TAXPAYER_TYPES)).all()
    assert frame[H["dr_cr"]].isin(list(DR_CR)).all()
    assert frame[H["vat_id_company"]].str.fullmatch(r"\d{3}-\d{2}-\d{5}").all()
    ids = frame[H["vat_id_party"]]
    assert ids[ids != ""].str.fullmatch(r"\d{3}-\d{2}-\d{5}").all()
    assert frame[H["party_code"]].str.fullmatch(r"\d{5}").all()
    assert frame[H["company_name"]].nunique() >= 15


def test_vat_is_consistent_with_vat_type(march: DemoMonth) -> None:
    clean = _clean(march)
    supply = clean[H["supply_amount"]].astype("int64")
    vat = clean[H["vat_amount"]].astype("int64")
    vat_type = clean[H["vat_type"]]
    taxable = vat_type.isin(["11", "17", "22", "51", "54", "57", "61"])
    expected = supply.abs().add(5).floordiv(10) * supply.apply(lambda x: 1 if x >= 0 else -1)
    assert (vat[taxable] == expected[taxable]).all()
    assert (vat[~taxable] == 0).all()
    sales = clean[H["acct_code"]].str.startswith("4")
    assert (clean.loc[sales, H["dr_cr"]] == "대변").all()
    assert (clean.loc[~sales, H["dr_cr"]] == "차변").all()
    card = vat_type.isin(["57", "58"])
    assert clean.loc[card, H["document_type"]].isin(["20", "21"]).all()
    assert (clean.loc[vat_type == "51", H["document_type"]] == "10").all()
    assert clean.loc[vat_type.isin(["61", "62"]), H["document_type"]].isin(["30", "31"]).all()
    negative = supply < 0
    assert 0.002 < negative.mean() < 0.03
    assert clean.loc[negative, H["desc"]].str.contains("반품|취소").all()


def test_text_is_cp949_encodable(march: DemoMonth) -> None:
    for column in march.frame.columns:
        "\n".join(march.frame[column].unique()).encode("cp949")
    "\n".join(CHART_OF_ACCOUNTS.values()).encode("cp949")


def test_label_space_is_long_tailed(year_clean: pd.DataFrame) -> None:
    share = year_clean[H["acct_code"]].value_counts(normalize=True)
    assert len(CHART_OF_ACCOUNTS) >= 45
    assert len(share) >= 40
    assert share.iloc[0] > 0.10
    assert (share < 0.005).sum() >= 5


def test_late_codes_start_in_their_month(year_clean: pd.DataFrame) -> None:
    codes = year_clean[H["acct_code"]]
    for code, start in CODE_START_MONTH.items():
        months = year_clean.loc[codes == code, "month"]
        assert not months.empty, code
        assert months.min() >= start, code


def test_counterparties_book_to_several_accounts(year_clean: pd.DataFrame) -> None:
    per_party = year_clean.groupby(H["party_name"])[H["acct_code"]].nunique()
    assert (per_party >= 2).mean() > 0.3
    coupang = year_clean.loc[year_clean[H["party_name"]] == "쿠팡(주)", H["acct_code"]]
    assert {"82900", "83000"} <= set(coupang)


def test_manufacturers_book_factory_costs_to_twins(year_clean: pd.DataFrame) -> None:
    codes = year_clean[H["acct_code"]]
    is_mfg = year_clean[H["company_business_type"]] == "제조업"
    assert codes[is_mfg].str.startswith("5").mean() > 0.05
    assert codes[~is_mfg].str.startswith("5").mean() < 0.01


def test_tiny_month_works() -> None:
    tiny = generate_month("2024-02", 1, 7)
    assert len(tiny.frame) == 1 and list(tiny.defects) == [""]
    with pytest.raises(ValueError):
        generate_month("2024-13", 10, 7)
    with pytest.raises(ValueError):
        generate_month("2024-01", 0, 7)


def test_write_demo_ledger_formats(tmp_path: Path) -> None:
    months = ["2024-01", "2024-02", "2024-03", "2024-04"]
    paths = write_demo_ledger(tmp_path, months, 300, 7, xlsx_months={"2024-04"})
    assert [p.name for p in paths] == [
        "ledger_2024-01.csv",
        "ledger_2024-02.csv",
        "ledger_2024-03.csv",
        "ledger_2024-04.xlsx",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    by_encoding = {file_layout(m)[0]: tmp_path / f"ledger_{m}.csv" for m in months[:3]}
    assert set(by_encoding) == {"utf-8", "utf-8-sig", "cp949"}

    raw = by_encoding["utf-8"].read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")
    assert by_encoding["utf-8-sig"].read_bytes().startswith(b"\xef\xbb\xbf")
    cp949 = by_encoding["cp949"].read_bytes()
    cp949.decode("cp949")
    with pytest.raises(UnicodeDecodeError):
        cp949.decode("utf-8")

    for encoding, path in by_encoding.items():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        assert list(frame.columns) == list(DEMO_COLUMNS)
        assert len(frame) == 300
    xlsx = pd.read_excel(tmp_path / "ledger_2024-04.xlsx", dtype=str, keep_default_na=False)
    assert list(xlsx.columns) == list(DEMO_COLUMNS) and len(xlsx) == 300
    assert xlsx[H["party_code"]].str.fullmatch(r"\d{5}").all(), "codes stay text with leading zeros"


def test_write_rotates_date_and_amount_formats(tmp_path: Path) -> None:
    months = YEAR[:6]
    write_demo_ledger(tmp_path, months, 100, 7, encoding="utf-8")
    date_shapes, separators = set(), set()
    for month in months:
        frame = pd.read_csv(tmp_path / f"ledger_{month}.csv", dtype=str, keep_default_na=False)
        dates = frame[H["date"]]
        date_shapes.add(dates[dates.str.len() > 0].str.replace(r"\d", "9", regex=True).mode()[0])
        separators.add(frame[H["total_amount"]].str.contains(",").any())
    assert date_shapes == {"99999999", "9999-99-99", "9999.99.99"}
    assert separators == {True, False}


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_demo_ledger(tmp_path, ["2024-01"], 10, 7, encoding="latin-1")
    with pytest.raises(ValueError):
        write_demo_ledger(tmp_path, ["2024-01"], 10, 7, xlsx_months=["2024-02"])


def test_cli_writes_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    code = demo.main(["--start", "2024-05", "--end", "2024-08", "--rows-per-month", "50", "--out", str(tmp_path)])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ledger_2024-05.csv", "ledger_2024-06.xlsx", "ledger_2024-07.csv", "ledger_2024-08.csv"]
    assert "ledger_2024-07.csv: 50 rows" in caplog.text


def test_cli_defaults_xlsx_to_middle_month_and_none_outside_mixed(tmp_path: Path) -> None:
    args = ["--start", "2023-01", "--end", "2023-03", "--rows-per-month", "5"]
    assert demo.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "ledger_2023-02.xlsx").exists()
    args = ["--start", "2024-06", "--end", "2024-06", "--rows-per-month", "5", "--encoding", "cp949"]
    assert demo.main([*args, "--out", str(tmp_path / "b")]) == 0
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["ledger_2024-06.csv"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--start", "2024-05", "--end", "2024-03"],
        ["--rows-per-month", "0"],
        ["--start", "2024-13"],
        ["--xlsx-months", "2025-01"],
        ["--encoding", "latin-1"],
    ],
)
def test_cli_rejects_bad_arguments(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        demo.main([*argv, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert not any(tmp_path.iterdir())
