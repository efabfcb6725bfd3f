"""Reading landing files: encodings, formats, broken lines, column mapping and month detection."""

from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.errors import ColumnMapError, LedgerFileError
from acctax_assets.ledger.column_map import load_column_map, snake_case
from acctax_assets.ledger.delimited_text import TRUNCATED_CHARACTER
from acctax_assets.ledger.ingestion import combine, read_ledger_file, read_ledger_files
from acctax_assets.ledger.landing import is_ledger_file, list_landing_files, month_from_name, month_of_file
from acctax_assets_tests.support.ledger_files import BASE_ROW, UNCODED_COLUMNS, ledger_rows, write_ledger

COLUMN_MAP = load_column_map()


def read(path: Path) -> pd.DataFrame:
    return read_ledger_file(path, COLUMN_MAP, path.parent).frame


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(3), encoding=encoding)
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.encoding == ("cp949" if encoding == "cp949" else "utf-8-sig")
    assert ledger.frame["party_name"].tolist() == ["스타벅스 강남점"] * 3
    assert ledger.frame.columns[0] == "date"


def test_cp949_bytes_really_are_not_utf8(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(1), encoding="cp949")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_xlsx_and_parquet_read_as_text(tmp_path: Path, suffix: str) -> None:
    path = write_ledger(tmp_path / f"ledger_2024-01{suffix}", ledger_rows(4))
    frame = read(path)
    assert len(frame) == 4
    assert frame["supply_amount"].tolist() == ["10,000"] * 4
    assert frame["source_row"].tolist() == [2, 3, 4, 5]


def test_lineage_columns(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "sub" / "ledger_2024-01.csv", ledger_rows(2))
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.frame["source_file"].tolist() == ["sub/ledger_2024-01.csv"] * 2
    assert ledger.frame["source_labelled"].all()
    assert (ledger.frame["parse_error"] == "").all()


def test_missing_required_column_names_file_column_and_fix(tmp_path: Path) -> None:
    columns = [c for c in BASE_ROW if c not in ("supply_amount", "total_amount")]
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(2), columns=columns)
    with pytest.raises(LedgerFileError) as error:
        read(path)
    message = str(error.value)
    assert "ledger_2024-01.csv" in message
    assert "'supply_amount' (usual header '매입.공급가액') or 'total_amount' (usual header '매입.합계금액')" in message
    assert "headers found: ['전표일자'" in message
    assert "column_map.yaml" in message


@pytest.mark.parametrize(
    ("dropped", "readable"),
    [
        (("company_name", "item"), True),
        (("supply_amount",), True),
        (("party_name", "item"), True),
        (("party_name", "desc", "item"), False),
        (("acct_code", "acct_name", "vat_amount", "total_amount"), True),
    ],
)
def test_only_date_amount_and_one_text_column_are_required(
    tmp_path: Path, dropped: tuple[str, ...], readable: bool
) -> None:
    columns = [c for c in BASE_ROW if c not in dropped]
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(2), columns=columns)
    if not readable:
        with pytest.raises(LedgerFileError, match="'party_name' .* or 'desc' .* or 'item'"):
            read(path)
        return
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.rows == 2
    assert set(dropped) - {"company_name"} <= set(ledger.columns_missing)


def test_renamed_column_is_mapped_by_an_override(tmp_path: Path) -> None:
    without_total = [c for c in BASE_ROW if c != "total_amount"]
    path = tmp_path / "ledger_2024-01.csv"
    write_ledger(path, ledger_rows(2), columns=without_total)
    path.write_text(path.read_text(encoding="utf-8").replace("매입.공급가액", "공급가액(원)"), encoding="utf-8")
    with pytest.raises(LedgerFileError):
        read(path)
    override = tmp_path / "column_map.yaml"
    override.write_text("sources:\n  'ledger_2024-*.csv':\n    공급가액(원): supply_amount\n", encoding="utf-8")
    frame = read_ledger_file(path, load_column_map(override), tmp_path).frame
    assert frame["supply_amount"].tolist() == ["10,000", "10,000"]
    other = write_ledger(tmp_path / "other_2024-01.csv", ledger_rows(1), columns=without_total)
    other.write_text(other.read_text(encoding="utf-8").replace("매입.공급가액", "공급가액(원)"), encoding="utf-8")
    with pytest.raises(LedgerFileError):
        read_ledger_file(other, load_column_map(override), tmp_path)


def test_global_override_and_conflicting_headers(tmp_path: Path) -> None:
    override = tmp_path / "column_map.yaml"
    override.write_text("columns:\n  비고: item\n", encoding="utf-8")
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(1), columns=[*BASE_ROW, "비고"])
    with pytest.raises(LedgerFileError, match="both map to column 'item'"):
        read_ledger_file(path, load_column_map(override), tmp_path)


def test_invalid_override_file_is_a_clear_error(tmp_path: Path) -> None:
    override = tmp_path / "column_map.yaml"
    override.write_text("colums:\n  a: b\n", encoding="utf-8")
    with pytest.raises(ColumnMapError, match="unknown top-level keys"):
        load_column_map(override)


def test_unknown_columns_are_kept_snake_cased(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(1), columns=[*BASE_ROW, "Cost Center", "작성자"])
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert ledger.mapping.unknown == ["Cost Center", "작성자"]
    assert {"cost_center", "작성자"} <= set(ledger.frame.columns)
    assert snake_case(" Some-Header (KRW) ") == "some_header_krw"


def test_empty_file_fails_with_fix(tmp_path: Path) -> None:
    path = tmp_path / "ledger_2024-01.csv"
    path.write_bytes(b"")
    with pytest.raises(LedgerFileError, match="empty.*Fix"):
        read(path)


def test_header_only_file_has_no_rows_and_a_warning(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", [])
    ledger = read_ledger_file(path, COLUMN_MAP, tmp_path)
    assert len(ledger.frame) == 0
    assert ledger.warnings and "header only" in ledger.warnings[0]


def test_truncated_and_overlong_lines_are_flagged_not_dropped(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(3))
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + ",extra"
    text = "\n".join(lines)
    path.write_text(text[: len(text) - 25], encoding="utf-8")
    frame = read(path)
    assert len(frame) == 3
    errors = frame["parse_error"].tolist()
    assert errors[0] == ""
    assert "extra" in errors[1]
    assert "truncated" in errors[2]


def test_files_read_together_keep_their_own_rows_when_one_is_broken(tmp_path: Path) -> None:
    header = "전표일자,거래처명,매입.공급가액\n"
    (tmp_path / "a_2024-01.csv").write_text(header + '20240101,"unterminated,100\n20240102,b,200\n', encoding="utf-8")
    (tmp_path / "b_2024-01.csv").write_text(header + "20240103,c,300\n", encoding="utf-8")
    (tmp_path / "c_2024-01.csv").write_text(header + '20240104,"two\nlines",400\n20240105,d,500\n', encoding="utf-8")
    raw = combine(read_ledger_files(list_landing_files(tmp_path), COLUMN_MAP, tmp_path))
    assert raw["source_file"].tolist() == ["a_2024-01.csv", "b_2024-01.csv", "c_2024-01.csv", "c_2024-01.csv"]
    assert raw["source_row"].tolist() == [2, 2, 2, 3]
    assert raw["party_name"].tolist()[1:] == ["c", "two\nlines", "d"]
    assert "truncated" in raw["parse_error"].iloc[0] and (raw["parse_error"].iloc[1:] == "").all()


def test_a_cell_too_large_to_split_is_a_clear_error(tmp_path: Path) -> None:
    huge = "긴 적요\n" * 200_000
    path = tmp_path / "ledger_2024-01.csv"
    path.write_text(f'전표일자,거래처명,매입.공급가액,적요명\n20240101,a,100,"{huge}"\n', encoding="utf-8")
    with pytest.raises(LedgerFileError, match="ledger_2024-01.csv: cannot be split into fields .*Fix: re-export"):
        read(path)


def test_truncated_multibyte_tail_is_decoded_and_flagged(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(2))
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data[:-2])
    frame = read(path)
    assert len(frame) == 2
    assert frame["acct_name"].tolist() == ["복리후생비", "복리후생"]
    assert frame["parse_error"].tolist() == ["", TRUNCATED_CHARACTER], "the cut line is flagged, not silently shortened"


def test_undecodable_bytes_fail_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger_2024-01.csv"
    path.write_bytes(b"\x80\xff\xfe\x81" * 50)
    with pytest.raises(LedgerFileError, match="ledger_2024-01.csv.*neither UTF-8 nor CP949"):
        read(path)


def test_corrupt_xlsx_fails_naming_the_file_and_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "ledger_2024-01.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(LedgerFileError, match="ledger_2024-01.xlsx: named .xlsx but is delimited text; no header row"):
        read(path)
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(
        LedgerFileError,
        match="ledger_2024-01.xlsx: cannot be read as XLSX: a ZIP archive that is not a complete workbook.*Fix:",
    ):
        read(path)


@pytest.mark.parametrize(
    ("name", "month"),
    [
        ("ledger_2024-03.csv", "2024-03-01"),
        ("전표_202403.xlsx", "2024-03-01"),
        ("export_20240315.csv", "2024-03-01"),
        ("ledger_2024_11.parquet", "2024-11-01"),
        ("ledger.csv", None),
        ("ledger_2024-13.csv", None),
        ("from_2024-01_to_2024-02.csv", None),
    ],
)
def test_month_from_name(name: str, month: str | None) -> None:
    assert month_from_name(name) == month


def test_month_from_content_when_name_has_no_period(tmp_path: Path) -> None:
    rows = ledger_rows(3, date="2024-05-02") + ledger_rows(1, date="2024-04-30")
    path = write_ledger(tmp_path / "upload.csv", rows)
    assert month_of_file(path, COLUMN_MAP, tmp_path) == "2024-05-01"


def test_landing_listing_skips_temp_hidden_and_foreign_files(tmp_path: Path) -> None:
    write_ledger(tmp_path / "ledger_2024-01.csv", ledger_rows(1))
    for name in [".ledger_2024-02.csv.tmp", "~$ledger.xlsx", "ledger_2024-03.csv.part", "notes.pdf", "readme.md"]:
        (tmp_path / name).write_text("x")
    write_ledger(tmp_path / ".hidden" / "ledger_2024-04.csv", ledger_rows(1))
    assert [p.name for p in list_landing_files(tmp_path)] == ["ledger_2024-01.csv"]


def test_landing_listing_takes_every_supported_export_kind(tmp_path: Path) -> None:
    names = ["a_2024-01.csv", "b_2024-01.tsv", "c_2024-01.txt", "d_2024-01.xlsx", "e_2024-01.xls", "f_2024-01.parquet"]
    for name in names:
        (tmp_path / "clients" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "clients" / name).write_text("x")
    assert [p.name for p in list_landing_files(tmp_path)] == names
    assert all(is_ledger_file(p) for p in list_landing_files(tmp_path))


def test_landing_listing_ignores_symlinks_that_escape_the_landing_folder(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    outside = write_ledger(tmp_path / "private" / "ledger_2024-02.csv", ledger_rows(1))
    inside = write_ledger(landing / "ledger_2024-01.csv", ledger_rows(1))
    (landing / "ledger_2024-02.csv").symlink_to(outside)
    (landing / "alias_2024-01.csv").symlink_to(inside)
    assert [p.name for p in list_landing_files(landing)] == ["alias_2024-01.csv", "ledger_2024-01.csv"]


def test_combine_orders_columns_and_fills_gaps(tmp_path: Path) -> None:
    first = read_ledger_file(write_ledger(tmp_path / "a_2024-01.csv", ledger_rows(1)), COLUMN_MAP, tmp_path)
    second = read_ledger_file(
        write_ledger(tmp_path / "b_2024-01.csv", ledger_rows(2), columns=UNCODED_COLUMNS), COLUMN_MAP, tmp_path
    )
    raw = combine([first, second])
    assert len(raw) == 3
    assert raw["acct_code"].tolist() == ["81100", "", ""]
    assert raw["source_labelled"].tolist() == [True, False, False]
    assert list(raw.columns[-8:]) == [
        "source_file",
        "source_row",
        "source_labelled",
        "parse_error",
        "line_kind",
        "line_marker",
        "date_origin",
        "source_mtime",
    ]
