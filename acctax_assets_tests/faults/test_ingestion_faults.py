"""Ingestion faults through the real ledger_data_job: every encoding and format, files the month cannot be built
from (the month keeps its last materialization), broken lines (quarantined), and a missing column whose error
names a fix that works."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance

from acctax_assets.defs.metadata_format import table_text
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.faults.harness import assert_no_row_lost, temp_files
from acctax_assets_tests.support.dagster_runs import JANUARY, failure_text, run_log, run_month, stored, stored_bytes
from acctax_assets_tests.support.ledger_files import BASE_ROW, ledger_rows, write_ledger


def renamed_header(path: Path, old: str, new: str) -> Path:
    """The file with one header renamed, as another office's export names it."""
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return path


def cut(path: Path, keep: Callable[[bytes], bytes]) -> Path:
    """The file as a copy or download that stopped early left it."""
    path.write_bytes(keep(path.read_bytes()))
    return path


def half(data: bytes) -> bytes:
    """The first half of a file: where a copy of a large file stopped."""
    return data[: len(data) // 2]


# Export files of one month in every accepted encoding and format: file name -> (encoding written, as reported).
FORMATS = {
    "ledger_2024-01_cp949.csv": ("cp949", "cp949"),
    "ledger_2024-01_bom.csv": ("utf-8-sig", "utf-8-sig"),
    "ledger_2024-01.xlsx": ("utf-8", "xlsx"),
    "ledger_2024-01.parquet": ("utf-8", "parquet"),
}
ROWS_PER_FILE = 6


def test_every_encoding_and_format_is_ingested_whole(home: AcctaxHome, instance: DagsterInstance) -> None:
    """Korean text, thousands separators and dotted dates survive CP949, UTF-8-BOM, XLSX and Parquet alike, in one
    month built from all four."""
    for number, (name, (encoding, _)) in enumerate(FORMATS.items()):
        rows = ledger_rows(
            ROWS_PER_FILE, date="2024.01.31", supply_amount="1,234,000", vat_amount="123,400", total_amount="1,357,400"
        )
        write_ledger(
            home.landing / name,
            [{**row, "voucher_key": f"{number}-{row['voucher_key']}"} for row in rows],
            encoding=encoding,
        )
    result = run_month(instance)
    assert result.success, failure_text(result)
    table = table_text(result.asset_materializations_for_node("raw_ledger")[0].metadata["source_files"])
    header, _, *lines = [line.replace(" ", "").split("|") for line in table.splitlines()]
    reported = {cells[header.index("file")]: cells[header.index("encoding")] for cells in lines}
    assert reported == {name: encoding for name, (_, encoding) in FORMATS.items()}
    cleaned = stored(home, "cleaned_ledger")
    assert cleaned.groupby("source_file").size().to_dict() == dict.fromkeys(FORMATS, ROWS_PER_FILE)
    assert (cleaned["party_name"] == "스타벅스 강남점").all()
    assert (cleaned["supply_amount"] == 1_234_000).all() and (cleaned["date"] == "2024-01-31").all()
    assert_no_row_lost(home, result)


@dataclass(frozen=True)
class Unusable:
    """A file a month cannot be built from, and what the error must say about it."""

    path: str  # relative to ACCTAX_HOME
    write: Callable[[Path], object]
    problem: str
    fix: str = "Fix:"


UNUSABLE = {
    "empty file": Unusable("landing/ledger_2024-01_b.csv", lambda p: p.write_bytes(b""), "the file is empty (0 bytes)"),
    "binary junk": Unusable(
        "landing/ledger_2024-01_b.csv", lambda p: p.write_bytes(b"\x80\xff\xfe\x81" * 64), "neither UTF-8 nor CP949"
    ),
    "blank lines only": Unusable(
        "landing/ledger_2024-01_b.csv", lambda p: p.write_bytes(b"\r\n\r\n"), "holds no cells (every sheet is empty)"
    ),
    "missing required column": Unusable(
        "landing/ledger_2024-01_b.csv",
        lambda p: write_ledger(
            p, ledger_rows(3), columns=[c for c in BASE_ROW if c not in ("supply_amount", "total_amount")]
        ),
        "'supply_amount' (usual header '매입.공급가액') or 'total_amount' (usual header '매입.합계금액')",
        "column_map.yaml",
    ),
    "two headers for one column": Unusable(
        "landing/ledger_2024-01_b.csv",
        lambda p: renamed_header(write_ledger(p, ledger_rows(3)), "적요명", "매입.품명"),
        "both map to column 'item'",
    ),
    "half a workbook": Unusable(
        "landing/ledger_2024-01_b.xlsx", lambda p: cut(write_ledger(p, ledger_rows(40)), half), "cannot be read as XLSX"
    ),
    "half a Parquet file": Unusable(
        "landing/ledger_2024-01_b.parquet",
        lambda p: cut(write_ledger(p, ledger_rows(40)), half),
        "cannot be read as Parquet",
    ),
    "invalid column map override": Unusable(
        "column_map.yaml", lambda p: p.write_text("columns: [unclosed\n"), "not valid YAML", fix=""
    ),
}


@pytest.mark.parametrize("case", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_unusable_file_fails_the_month_and_keeps_its_last_materialization(
    home: AcctaxHome, instance: DagsterInstance, restore: Callable[..., None], case: Unusable
) -> None:
    """A bad file next to a good one stops the month with an error naming the file, the problem and the fix; the
    month's stored tables stay as they were (nothing half-ingested, nothing dropped)."""
    restore(JANUARY)
    before = stored_bytes(home)
    case.write(home.root / case.path)
    result = run_month(instance)
    assert not result.success
    message = failure_text(result)
    assert Path(case.path).name in message and case.problem in message and case.fix in message, message
    assert stored_bytes(home) == before
    assert temp_files(home.storage) == []


@dataclass(frozen=True)
class Quarantine:
    """Files whose broken rows must be rejected with a reason (and reported) while the month materializes."""

    land: Callable[[Path], object]  # writes into the landing folder
    reasons: dict[str, int]
    log: str = ""


def duplicate_drop(landing: Path) -> None:
    """The same export saved twice under two names (a re-download)."""
    for name in ("ledger_2024-01.csv", "ledger_2024-01 (1).csv"):
        write_ledger(landing / name, ledger_rows(12))


def beside_a_good_file(name: str, write: Callable[[Path], object]) -> Callable[[Path], None]:
    """A good January export with another file `name` next to it."""

    def land(landing: Path) -> None:
        write_ledger(landing / "ledger_2024-01.csv", ledger_rows(8))
        write(landing / name)

    return land


QUARANTINES = {
    "last line cut mid-row": Quarantine(
        lambda landing: cut(
            write_ledger(landing / "ledger_2024-01.csv", ledger_rows(20)), lambda b: b.rstrip(b"\n").rsplit(b",", 2)[0]
        ),
        {"malformed_line": 1},
    ),
    "line with an extra field": Quarantine(
        lambda landing: cut(
            write_ledger(landing / "ledger_2024-01.csv", ledger_rows(20)),
            lambda b: b.replace(b"81100,", b"81100,extra,", 1),
        ),
        {"malformed_line": 1},
    ),
    "same file dropped twice": Quarantine(duplicate_drop, {"duplicate": 12}),
    "month read from the dates": Quarantine(
        lambda landing: write_ledger(landing / "upload.csv", ledger_rows(8) + ledger_rows(2, date="20240210")),
        {"date_outside_month": 2},
    ),
    "unknown columns": Quarantine(
        lambda landing: write_ledger(
            landing / "ledger_2024-01.csv", ledger_rows(6), columns=[*BASE_ROW, "비고", "Cost Center"]
        ),
        {},
        "Unknown columns kept as snake_case: ['Cost Center', '비고']",
    ),
    "header-only file": Quarantine(
        beside_a_good_file("ledger_2024-01_b.csv", lambda p: write_ledger(p, [])), {}, "header only, no data rows"
    ),
    "unreadable file without a month": Quarantine(
        beside_a_good_file("scan.csv", lambda p: p.write_bytes(b"\x80\xff\xfe\x81" * 64)),
        {},
        "scan.csv: text is neither UTF-8 nor CP949",
    ),
    "CP949 file cut inside a Hangul character": Quarantine(
        lambda landing: cut(
            write_ledger(landing / "ledger_2024-01.csv", ledger_rows(20), encoding="cp949"),
            lambda b: b.rstrip(b"\n")[:-1],
        ),
        {"malformed_line": 1},
    ),
}


@pytest.mark.parametrize("case", QUARANTINES.values(), ids=QUARANTINES.keys())
def test_broken_lines_are_quarantined_and_no_row_is_lost(
    home: AcctaxHome, instance: DagsterInstance, case: Quarantine
) -> None:
    """Broken lines and copies become rejected rows with a reason; files that cannot be placed are reported."""
    case.land(home.landing)
    result = run_month(instance)
    assert result.success, failure_text(result)
    assert stored(home, "rejected_ledger_rows")["reject_reason"].value_counts().to_dict() == case.reasons
    assert case.log in run_log(instance, result)
    assert_no_row_lost(home, result)


def test_missing_column_error_names_a_fix_that_works(home: AcctaxHome, instance: DagsterInstance) -> None:
    """Another office's header for 전표일자 (a required column, and the one that finds the header row) fails the
    month with the rows seen; the column-map line the error proposes makes it pass."""
    renamed_header(write_ledger(home.landing / "officeB_2024-01.csv", ledger_rows(6)), "전표일자", "거래일(전표)")
    failed = run_month(instance)
    message = failure_text(failed)
    assert not failed.success
    assert "officeB_2024-01.csv" in message and "no header row" in message and "거래일(전표)" in message, message
    assert "column_map.yaml" in message and "sources:" in message
    home.column_map_override.write_text('sources:\n  "officeB_*.csv":\n    거래일(전표): date\n', encoding="utf-8")
    fixed = run_month(instance)
    assert fixed.success, failure_text(fixed)
    assert len(stored(home, "cleaned_ledger")) == 6
    assert_no_row_lost(home, fixed)


def test_a_blank_line_keeps_the_spreadsheet_row_numbers(home: AcctaxHome, instance: DagsterInstance) -> None:
    """A blank line inside an export is no data, but the rows after it must still point at their own line."""
    path = write_ledger(home.landing / "ledger_2024-01.csv", ledger_rows(4))
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join([*lines[:2], "", *lines[2:]]), encoding="utf-8")
    result = run_month(instance)
    assert result.success, failure_text(result)
    assert_no_row_lost(home, result)
    cleaned = stored(home, "cleaned_ledger")
    assert dict(zip(cleaned["voucher_key"], cleaned["source_row"], strict=True)) == {
        "2024-01-00001": 2,
        "2024-01-00002": 4,
        "2024-01-00003": 5,
        "2024-01-00004": 6,
    }
