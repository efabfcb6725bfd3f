"""LandingMonths, the one decider of a landing file's month: undated files are parsed once per version, whoever
asks (the sensor's ticks, each month's raw_ledger run, the CLI), and a changed file is read again."""

import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger import landing
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.landing import LandingMonths
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger

COLUMN_MAP = load_column_map()
MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each file's content was read to find its month."""
    counts: Counter[str] = Counter()
    read = landing.month_from_content

    def counted(path: Path, *args: object) -> str | None:
        counts[path.name] += 1
        return read(path, *args)

    monkeypatch.setattr(landing, "month_from_content", counted)
    return counts


def folder(root: Path) -> Path:
    """Three named months and two undated uploads (January's and March's)."""
    for month in MONTHS:
        write_ledger(root / f"ledger_{month[:7]}.csv", ledger_rows(1, date=month.replace("-", "")))
    write_ledger(root / "upload_a.csv", ledger_rows(2, date="2024-01-15"))
    write_ledger(root / "clients" / "upload_b.csv", ledger_rows(2, date="2024-03-20"))
    return root


def test_a_backfill_parses_each_undated_file_once(tmp_path: Path, parses: Counter[str]) -> None:
    """Each month's run is its own process with its own LandingMonths: the cache file carries what the first read."""
    root = folder(tmp_path / "landing")
    cache = tmp_path / "landing_months.json"
    selected = {month: LandingMonths(root, COLUMN_MAP, cache).files_for_month(month) for month in MONTHS}
    assert {month: sorted(p.name for p in files) for month, (files, _) in selected.items()} == {
        "2024-01-01": ["ledger_2024-01.csv", "upload_a.csv"],
        "2024-02-01": ["ledger_2024-02.csv"],
        "2024-03-01": ["ledger_2024-03.csv", "upload_b.csv"],
    }
    scan = LandingMonths(root, COLUMN_MAP, cache).scan(set(MONTHS))
    assert sorted(scan.content_months.values()) == ["2024-01-01", "2024-03-01"] and not scan.unmapped
    assert parses == {"upload_a.csv": 1, "upload_b.csv": 1}


def test_a_changed_file_is_read_again(tmp_path: Path, parses: Counter[str]) -> None:
    root = folder(tmp_path / "landing")
    cache = tmp_path / "landing_months.json"
    assert "2024-01-01" in LandingMonths(root, COLUMN_MAP, cache).scan(set(MONTHS)).content_months.values()
    upload = write_ledger(root / "upload_a.csv", ledger_rows(3, date="2024-02-11"))
    stat = upload.stat()
    os.utime(upload, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    files, _ = LandingMonths(root, COLUMN_MAP, cache).files_for_month("2024-02-01")
    assert sorted(p.name for p in files) == ["ledger_2024-02.csv", "upload_a.csv"]
    assert parses == {"upload_a.csv": 2, "upload_b.csv": 1}
    kept = json.loads(cache.read_text(encoding="utf-8"))["files"]
    assert sorted(entry["month"] for entry in kept.values()) == ["2024-02-01", "2024-03-01"], "the old version left"


def test_an_unreadable_undated_file_is_reported_the_same_from_the_cache(tmp_path: Path, parses: Counter[str]) -> None:
    """A file whose content says no month (a 일계표, a corrupt copy) is not parsed again for every month either."""
    root = folder(tmp_path / "landing")
    (root / "scan.csv").write_bytes(b"\x80\xff\xfe\x81" * 10)
    cache = tmp_path / "landing_months.json"
    first = LandingMonths(root, COLUMN_MAP, cache).files_for_month("2024-01-01")[1]
    again = LandingMonths(root, COLUMN_MAP, cache).files_for_month("2024-02-01")[1]
    assert len(first) == 1 and first == again and parses["scan.csv"] == 1
    with pytest.raises(LedgerFileError, match="scan.csv"):
        landing.month_of_file(root / "scan.csv", COLUMN_MAP, root)


def test_a_cache_made_under_another_column_map_is_not_used(tmp_path: Path, parses: Counter[str]) -> None:
    """The column map decides which column holds the dates, so a month read under another map is read again."""
    root = folder(tmp_path / "landing")
    cache = tmp_path / "landing_months.json"
    LandingMonths(root, COLUMN_MAP, cache).scan(set(MONTHS))
    other = replace(COLUMN_MAP, columns={**COLUMN_MAP.columns, "처리일자": "date"})
    LandingMonths(root, other, cache).scan(set(MONTHS))
    assert parses == {"upload_a.csv": 2, "upload_b.csv": 2}


def test_an_unreadable_cache_counts_as_empty(tmp_path: Path, parses: Counter[str]) -> None:
    root = folder(tmp_path / "landing")
    cache = tmp_path / "landing_months.json"
    cache.write_text('{"column_map": 3, "files": [', encoding="utf-8")
    scan = LandingMonths(root, COLUMN_MAP, cache).scan(set(MONTHS))
    assert sorted(scan.months) == MONTHS and parses == {"upload_a.csv": 1, "upload_b.csv": 1}
    assert len(json.loads(cache.read_text(encoding="utf-8"))["files"]) == 2
