"""The office's chart, as it is: account cells holding code and name, 3-digit charts, `chart:` in the column map."""

import itertools
import re
from pathlib import Path

import pandas as pd
import pytest
from dagster import build_asset_context

from acctax_assets.defs.metadata_format import table_text
from acctax_assets.defs.raw_ledger import raw_ledger
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.errors import ColumnMapError
from acctax_assets.ledger import quality
from acctax_assets.ledger.account_codes import AUTO, Chart, account_codes, split_accounts
from acctax_assets.ledger.cleaning import CleaningResult, CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import ColumnMap, load_column_map
from acctax_assets.ledger.ingestion import LedgerFile, combine, read_ledger_files
from acctax_assets.ledger.parsing import TEXT
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.ledger_files import BASE_ROW, ledger_rows, write_ledger

JANUARY = "2024-01-01"
NAMES = ("복리후생비", "여비교통비", "외화환산손실(영업외)")
BRACKETS = (("[", "]"), ("(", ")"), ("【", "】"), ("<", ">"), ("{", "}"), ("［", "］"), ("（", "）"))


def cells(*values: str | None) -> pd.Series:
    return pd.Series(values, dtype=TEXT)


def split_one(cell: str | None) -> tuple[object, object]:
    accounts = split_accounts(cells(cell))
    return accounts.code.iloc[0], accounts.name.iloc[0]


def code_and_name_cells() -> list[tuple[str, str, str]]:
    """(cell, code, name) for every way programs print a code and a name in one cell, over both charts' lengths."""
    forms = []
    for code, name in itertools.product(("811", "81100"), NAMES):
        for gap in ("", " ", "  ", "\t"):
            forms += [(f"{code}{gap}{name}", code, name), (f"{gap}{code} {name}{gap}", code, name)]
            forms += [(f"{code}{gap}{sep}{gap}{name}", code, name) for sep in "-:|/_"]
            for opening, closing in BRACKETS:
                forms.append((f"{opening}{gap}{code}{gap}{closing}{gap}{name}", code, name))
                forms.append((f"{name}{gap}{opening}{gap}{code}{gap}{closing}", code, name))
    return forms


@pytest.mark.parametrize(("cell", "code", "name"), code_and_name_cells())
def test_code_and_name_in_one_cell_are_split(cell: str, code: str, name: str) -> None:
    assert split_one(cell) == (code, name)


@pytest.mark.parametrize(
    ("cell", "code"),
    [("81100", "81100"), ("811", "811"), ("81100.0", "81100"), (" 811 ", "811"), ("８１１００", "81100"), ("12", "12")],
)
def test_a_cell_that_is_only_a_code_stays_a_code(cell: str, code: str) -> None:
    """Any run of digits: a code of the wrong length is for the rules to reject, with the cell in the detail."""
    assert split_one(cell) == (code, pd.NA)


@pytest.mark.parametrize(
    "cell", ["복리후생비", "접대비(2)", "외화환산손실(영업외)", "감가상각비 12", "8110A", "Office"]
)
def test_a_name_only_cell_gives_no_code(cell: str) -> None:
    """A code inside a name has 3 to 6 digits and stands apart from it, so `(2)` or `8110A` is no code."""
    assert split_one(cell) == (pd.NA, cell)


@pytest.mark.parametrize("cell", ["", "   ", None])
def test_a_blank_cell_gives_neither(cell: str | None) -> None:
    assert split_one(cell) == (pd.NA, pd.NA)


def test_split_is_per_row_and_keeps_the_index() -> None:
    values = pd.Series(["[811] 복리후생비", None, "[811] 복리후생비", "여비교통비"], index=[7, 3, 5, 1], dtype=TEXT)
    accounts = split_accounts(values)
    assert accounts.code.index.tolist() == [7, 3, 5, 1]
    assert accounts.code.tolist() == ["811", pd.NA, "811", pd.NA]
    assert accounts.name.tolist() == ["복리후생비", pd.NA, "복리후생비", "여비교통비"]


def test_account_codes_take_each_part_from_where_it_is() -> None:
    code_cells = cells("81100 복리후생비", "81100 복리후생비", "82200", "8110A", "", "")
    name_cells = cells("", "복리후생(직원)", "", "", "[811] 복리후생비", "여비교통비")
    accounts = account_codes(code_cells, name_cells, Chart())
    assert accounts.code.tolist() == ["81100", "81100", "82200", "8110A", "811", pd.NA], (
        "the code column's code, a typo as written, else the code the name carries"
    )
    assert accounts.name.tolist() == ["복리후생비", "복리후생(직원)", pd.NA, pd.NA, "복리후생비", "여비교통비"], (
        "the name column's name, else the one the code cell carried"
    )
    mapped = account_codes(cells("811", "[822] 여비교통비", "90000"), None, Chart(5, {"811": "81100", "822": "82200"}))
    assert mapped.code.tolist() == ["81100", "82200", "90000"]
    assert account_codes(None, cells("81100 복리후생비"), Chart()).code.tolist() == ["81100"]


def test_auto_length_is_the_most_common_one() -> None:
    auto = Chart(code_digits=AUTO)
    assert auto.length(cells("811", "822", "81100", None, "x")) == 3
    assert auto.length(cells("811", "81100")) == 5, "a tie goes to the longer code"
    assert auto.length(cells("x", None)) is None
    assert Chart(code_digits=3).length(cells("81100")) == 3


# ---------------------------------------------------------------------------------------------------------
# `chart:` in the column map.


def column_map(tmp_path: Path, text: str) -> ColumnMap:
    override = tmp_path / "column_map.yaml"
    override.write_text(text, encoding="utf-8")
    return load_column_map(override)


def test_the_packaged_chart_is_five_digits() -> None:
    assert load_column_map().chart == Chart(code_digits=5, codes={})


def test_chart_settings_are_read_and_amend_the_packaged_chart(tmp_path: Path) -> None:
    chart = column_map(tmp_path, "chart:\n  code_digits: 3\n  codes: {'0811': 811, 822: '822'}\n").chart
    assert chart == Chart(code_digits=3, codes={"0811": "811", "822": "822"})
    assert column_map(tmp_path, "chart:\n  codes: {811: 81100}\n").chart == Chart(5, {"811": "81100"})
    assert column_map(tmp_path, "chart:\n  code_digits: auto\n").chart == Chart(AUTO)
    assert column_map(tmp_path, "columns: {}\n").chart == Chart(5)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("chart:\n  code_digits: 7\n", "chart.code_digits must be 3 to 6 .* got 7"),
        ("chart:\n  code_digits: five\n", "chart.code_digits must be 3 to 6 .* got 'five'"),
        ("chart:\n  code_digits: true\n", "chart.code_digits must be 3 to 6"),
        ("chart:\n  codes: [811, 81100]\n", "chart.codes must map codes to codes"),
        ("chart:\n  codes: {811: 8110}\n", r"maps '811' to '8110'.*chart.code_digits: 5"),
        ("chart:\n  code_digits: 3\n  codes: {811: 81100}\n", r"maps '811' to '81100'.*chart.code_digits: 3"),
        ("chart:\n  codes: {복리후생비: 81100}\n", "both must be codes of digits"),
        ("chart:\n  digits: 3\n", "chart must be a mapping with `code_digits`"),
        ("chart: 3\n", "chart must be a mapping with `code_digits`"),
        ("chrt:\n  code_digits: 3\n", r"unknown top-level keys \['chrt'\].*chart"),
    ],
)
def test_invalid_chart_settings_are_clear_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ColumnMapError, match=problem):
        column_map(tmp_path, text)


def test_the_settings_resource_passes_the_chart_to_cleaning(home: AcctaxHome) -> None:
    home.column_map_override.write_text("chart:\n  code_digits: 3\n", encoding="utf-8")
    assert LedgerSettings().rules.chart == Chart(code_digits=3)


# ---------------------------------------------------------------------------------------------------------
# Files of a 3-digit program, read and cleaned.


def write_coded(path: Path, codes: list[str], names: list[str] | None = None, columns: list[str] | None = None) -> Path:
    """One voucher line per code (and name), with distinct voucher keys."""
    names = names or [BASE_ROW["acct_name"]] * len(codes)
    rows = [
        {**row, "acct_code": code, "acct_name": name}
        for row, code, name in zip(ledger_rows(len(codes)), codes, names, strict=True)
    ]
    return write_ledger(path, rows, columns=columns)


def read_and_clean(paths: list[Path], tmp_path: Path, chart_yaml: str = "") -> tuple[list[LedgerFile], CleaningResult]:
    mapped = column_map(tmp_path, chart_yaml) if chart_yaml else load_column_map()
    ledgers = read_ledger_files(paths, mapped, tmp_path)
    raw = combine(ledgers)
    result = clean_ledger(raw, JANUARY, CleaningRules(chart=mapped.chart))
    assert len(result.cleaned) + len(result.rejected) == len(raw)
    return ledgers, result


def test_a_three_digit_chart_end_to_end(tmp_path: Path) -> None:
    path = write_coded(
        tmp_path / "kclep_2024-01.csv",
        ["811", "[822] 여비교통비", "복리후생비(811)", "813 접대비"],
        ["복리후생비", "", "", ""],
    )
    (ledger,), result = read_and_clean([path], tmp_path, "chart:\n  code_digits: 3\n")
    assert ledger.labelled_rows == 4 and ledger.frame["source_labelled"].all()
    assert result.rejected.empty
    assert result.cleaned["acct_code"].tolist() == ["811", "822", "811", "813"]
    assert result.cleaned["acct_name"].tolist() == ["복리후생비", "여비교통비", "복리후생비", "접대비"]
    assert quality.label_format(result.cleaned, Chart(code_digits=3)).passed
    assert not quality.label_format(result.cleaned, Chart()).passed

    _, five = read_and_clean([path], tmp_path)
    assert five.cleaned.empty and set(five.rejected["reject_reason"]) == {"invalid_label"}
    detail = five.rejected["reject_detail"].iloc[0]
    assert detail.startswith("acct_code=811 is not 5 digits (chart.code_digits: 5 in column_map.yaml)")
    assert "set `chart: code_digits: 3`" in detail and "chart: codes:" in detail


def test_a_five_digit_code_in_a_three_digit_office_names_its_setting(tmp_path: Path) -> None:
    path = write_coded(tmp_path / "x_2024-01.csv", ["81100", "81100"])
    _, result = read_and_clean([path], tmp_path, "chart:\n  code_digits: 3\n")
    assert (
        result.rejected["reject_detail"]
        .str.startswith("acct_code=81100 is not 3 digits (chart.code_digits: 3 in column_map.yaml)")
        .all()
    )


def test_codes_of_another_chart_are_mapped_before_they_are_checked(tmp_path: Path) -> None:
    kclep = write_coded(tmp_path / "kclep_2024-01.csv", ["811", "[822] 여비교통비"], ["", ""])
    douzone = write_ledger(tmp_path / "douzone_2024-01.csv", ledger_rows(1, voucher_key="D-1"))
    _, result = read_and_clean([kclep, douzone], tmp_path, "chart:\n  codes: {811: 81100, 822: 82200}\n")
    assert result.rejected.empty
    assert result.cleaned["acct_code"].tolist() == ["81100", "82200", "81100"]
    assert result.cleaned["acct_name"].tolist() == [pd.NA, "여비교통비", "복리후생비"]


def test_a_file_mixing_lengths_rejects_the_other_rows_naming_both_lengths_and_the_fix(tmp_path: Path) -> None:
    """Per-row rejection rather than a failed month: the file's right rows and the other clients' files go on, and
    each quarantined row says what its file mixes and which mapping fixes it."""
    mixed = write_coded(tmp_path / "mixed_2024-01.csv", ["811", "81100", "81100", "[822] 여비교통비", "81300"])
    _, result = read_and_clean([mixed], tmp_path)
    assert result.cleaned["acct_code"].tolist() == ["81100", "81100", "81300"]
    rejected = result.rejected.set_index("source_row")
    assert rejected["reject_reason"].tolist() == ["invalid_label", "invalid_label"]
    assert rejected.loc[2, "reject_detail"] == (
        "acct_code=811 is not 5 digits (chart.code_digits: 5 in column_map.yaml); its file mixes 3-digit (2 rows) "
        "and 5-digit (3 rows) codes. Fix: map the codes of the other chart onto the office's under `chart: codes:` "
        "in column_map.yaml (`811: <its 5-digit code>`)"
    )
    assert "(`822: <its 5-digit code>`)" in rejected.loc[5, "reject_detail"]


def test_auto_takes_the_length_most_codes_have(tmp_path: Path) -> None:
    kclep = write_coded(tmp_path / "kclep_2024-01.csv", ["811", "822", "813", "81100"])
    _, result = read_and_clean([kclep], tmp_path, "chart:\n  code_digits: auto\n")
    assert result.cleaned["acct_code"].tolist() == ["811", "822", "813"]
    assert (
        result.rejected["reject_detail"]
        .iloc[0]
        .startswith(
            "acct_code=81100 is not 3 digits (chart.code_digits: auto, most codes have 3 in column_map.yaml); "
            "its file mixes 3-digit (3 rows) and 5-digit (1 row) codes"
        )
    )


# ---------------------------------------------------------------------------------------------------------
# Files with an account-name column and no code column.

WITHOUT_CODE = [c for c in BASE_ROW if c != "acct_code"]


def test_codes_in_the_account_name_column_make_the_file_labelled(tmp_path: Path) -> None:
    names = ["81100 복리후생비", "[822] 여비교통비", "복리후생비(81100)"]
    path = write_coded(tmp_path / "names_2024-01.csv", [""] * 3, names, columns=WITHOUT_CODE)
    (ledger,), result = read_and_clean([path], tmp_path, "chart:\n  codes: {822: 82200}\n")
    assert ledger.frame["source_labelled"].all() and ledger.labelled_rows == 3 and not ledger.warnings
    assert result.rejected.empty
    assert result.cleaned["acct_code"].tolist() == ["81100", "82200", "81100"]
    assert result.cleaned["acct_name"].tolist() == ["복리후생비", "여비교통비", "복리후생비"]


def test_names_without_codes_leave_the_file_unlabelled_with_a_warning_naming_both_columns(tmp_path: Path) -> None:
    path = write_coded(
        tmp_path / "names_2024-01.csv", [""] * 3, ["복리후생비", "여비교통비", "811 복리후생비"], WITHOUT_CODE
    )
    (ledger,), result = read_and_clean([path], tmp_path)
    assert not ledger.frame["source_labelled"].any() and ledger.labelled_rows == 0
    (warning,) = ledger.warnings
    assert warning.startswith(
        "names_2024-01.csv: has an account-name column '계정과목' (acct_name) but no account-code"
    )
    assert "'계정과목코드'" in warning and "only 1 of its 3 names carry a code" in warning and "Fix:" in warning
    assert result.rejected.empty, "an unlabelled file's rows are to be predicted, not rejected"
    assert result.cleaned["acct_code"].isna().all(), "a code among an unlabelled file's names is no label"
    assert result.cleaned["acct_name"].tolist() == ["복리후생비", "여비교통비", "복리후생비"]


def test_raw_ledger_metadata_counts_labelled_rows_per_file(home: AcctaxHome) -> None:
    write_coded(home.landing / "coded_2024-01.csv", ["81100", "81100"])
    write_coded(home.landing / "names_2024-01.csv", ["", ""], ["복리후생비", "여비교통비"], WITHOUT_CODE)
    context = build_asset_context(partition_key=JANUARY)
    output = raw_ledger(context, LedgerSettings())
    table = table_text(output.metadata["source_files"])
    assert re.search(r"\|\s*labelled_rows\s*\|", table)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if "_2024-01.csv" in line}
    header = [cell.strip() for cell in table.splitlines()[0].split("|")]
    column = header.index("labelled_rows")
    assert rows["coded_2024-01.csv"].split("|")[column].strip() == "2"
    assert rows["names_2024-01.csv"].split("|")[column].strip() == "0"
