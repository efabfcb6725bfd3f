"""Account cells as Korean accounting programs print them, read into the office's chart of accounts.

The label is the account code, but programs print it in more ways than one cell of five digits: code and name in
one cell (`81100 복리후생비`, `[811] 복리후생비`, `복리후생비(811)`, `(81100)복리후생비`), or only a 계정과목 column
that carries the code inside the name. And the code's length is the office's chart, not a constant: 더존 prints
five digits (81100), KcLep and 세무사랑 three (811). `split_accounts` reads a cell into (code, name);
`account_codes` turns a file's code and name columns into the label, mapped by the column map's `chart: codes:`;
`Chart` says how long the office's codes are, which cleaning's `invalid_label` rule checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from acctax_assets.ledger.parsing import TEXT, Distinct, blank_to_na

DEFAULT_CODE_DIGITS = 5
# Code lengths a chart may have: 3 (KcLep, 세무사랑) to 6; 5 is 더존's.
CODE_DIGITS = range(3, 7)
AUTO = "auto"

# The forms a cell may take, tried in this order. Only a code; a spreadsheet may have stored it as a number (`81100.0`).
_CODE_ONLY = r"^(?P<code>\d+)(?:\.0+)?$"
# The code in brackets, then the name: `[811] 복리후생비`, `(81100)복리후생비`, `【811】복리후생비`.
_BRACKETED_FIRST = r"^[\[(【<{]\s*(?P<code>\d{3,6})\s*[\])】>}]\s*[-:.|/_]?\s*(?P<name>[^\d\s].*?)$"
# The code, then a space, a separator or Hangul, then the name: `81100 복리후생비`, `811-복리후생비`, `81100복리후생비`
# (not `8110A`: a code-column cell like that is a typo, left for the rules to reject).
_CODE_FIRST = r"^(?P<code>\d{3,6})(?:\s*[-:.|/_]\s*|\s+|(?=[가-힣]))(?P<name>[^\d\s].*?)$"
# The name, then the code in brackets: `복리후생비(811)`, `복리후생비 [81100]`.
_NAME_FIRST = r"^(?P<name>.*?\S)\s*[\[(【<{]\s*(?P<code>\d{3,6})\s*[\])】>}]$"
_FORMS = (_CODE_ONLY, _BRACKETED_FIRST, _CODE_FIRST, _NAME_FIRST)


@dataclass(frozen=True)
class Chart:
    """The office's chart of accounts (the column map's `chart:`): how many digits its codes have, and codes of
    another chart mapped onto it (`811: 81100` when a client's files come from a 3-digit program).

    `code_digits` is 3 to 6, or `auto`: the length most of a month's codes have, for an office that does not want
    to say; rows of another length are then rejected like any wrong-length code."""

    code_digits: int | str = DEFAULT_CODE_DIGITS
    codes: Mapping[str, str] = field(default_factory=dict)

    def length(self, codes: pd.Series) -> int | None:
        """The code length the rules check: `code_digits`, or with `auto` the most common length of the all-digit
        `codes` (the longer one on a tie); None when `auto` has no code to go by."""
        if self.code_digits != AUTO:
            return int(self.code_digits)
        lengths = codes[codes.str.fullmatch(r"\d+", na=False)].str.len().value_counts()
        if lengths.empty:
            return None
        return int(max(lengths.index, key=lambda length: (lengths[length], length)))

    def wrong_length(self, codes: pd.Series) -> pd.Series:
        """Per code, whether it is not a code of the chart's length (missing codes included)."""
        length = self.length(codes)
        # With `auto` and no all-digit code, no code has a length to go by: `\d+` matches none of them.
        return ~codes.str.fullmatch(rf"\d{{{length}}}" if length else r"\d+", na=False)

    def setting(self, length: int | None) -> str:
        """`chart.code_digits` as configured, for messages: `3`, or `auto, most codes have 5`."""
        return str(self.code_digits) if self.code_digits != AUTO else f"{AUTO}, most codes have {length}"


@dataclass(frozen=True)
class AccountCells:
    """Per row of an account column: the code its cell carries and the name it carries (each NA when absent)."""

    code: pd.Series
    name: pd.Series


def _split(cells: pd.Series) -> pd.DataFrame:
    """`split_accounts` on every cell: columns `code` and `name`."""
    text = blank_to_na(cells).str.normalize("NFKC").str.strip()
    code = pd.Series(pd.NA, index=cells.index, dtype=TEXT)
    name = text.copy()
    for form in _FORMS:
        rest = code.isna() & text.notna()
        if not rest.any():
            break
        parts = text[rest].str.extract(form)
        code[rest] = parts["code"]
        found = rest & code.notna()
        # A code-only cell has no name; a cell that matches no form is all name.
        name[found] = parts["name"][found[rest]] if "name" in parts else pd.NA
    name = name.str.strip()
    return pd.DataFrame({"code": code, "name": name.mask(name == "")})


def split_accounts(cells: pd.Series) -> AccountCells:
    """Read account cells into code and name, once per distinct value (a month repeats a few hundred accounts).

    A code-only cell (`81100`, `811`, `81100.0`) is a code; a code and name in one cell, in any of the forms
    programs print (`81100 복리후생비`, `[811] 복리후생비`, `복리후생비(811)`, `811 복리후생비`,
    `(81100)복리후생비`, full-width brackets and digits too), give both; a name-only cell gives a name and no code.
    A code inside such a cell has 3 to 6 digits, so a name ending in `(2)` is not read as one."""
    distinct = Distinct.of(cells)
    split = _split(distinct.values)
    return AccountCells(code=distinct.spread(split["code"]), name=distinct.spread(split["name"]))


def account_codes(code_cells: pd.Series | None, name_cells: pd.Series | None, chart: Chart) -> AccountCells:
    """The label of each row from a file's account-code column and account-name column (either may be absent).

    The code is the code column's code, else the one the name column carries (`81100 복리후생비` under 계정과목);
    a code-column cell that is neither a code nor code and name stays as written, so the rule that checks it shows
    what the file said. The name is the name column's, else the one a code-and-name cell of the code column
    carried. `chart.codes` maps codes of another chart onto the office's before any rule sees them."""
    index = (code_cells if code_cells is not None else name_cells).index
    absent = pd.Series(pd.NA, index=index, dtype=TEXT)
    by_code = split_accounts(code_cells) if code_cells is not None else AccountCells(absent, absent)
    by_name = split_accounts(name_cells) if name_cells is not None else AccountCells(absent, absent)
    written = blank_to_na(code_cells) if code_cells is not None else absent
    code = by_code.code.fillna(written).fillna(by_name.code)
    if chart.codes:
        code = code.replace(dict(chart.codes))
    name = by_name.name.fillna(by_code.name.where(by_code.code.notna()))
    return AccountCells(code=code.astype(TEXT), name=name.astype(TEXT))


def label_rule(codes: pd.Series, files: pd.Series, chart: Chart) -> tuple[pd.Series, Callable[[pd.Series], pd.Series]]:
    """Cleaning's `invalid_label` rule: per row, whether its code is not a code of the chart's length (missing codes
    included), and the detail builder for the rows it rejects.

    The detail names the length and where it is set; for a file whose codes have one other length it says to set
    `code_digits`, and for a file that mixes lengths (a client moved from KcLep to 더존, or two programs' exports were
    pasted together) it names both lengths with their row counts and the `chart: codes:` mapping that fixes it."""
    length = chart.length(codes)

    def detail(rows: pd.Series) -> pd.Series:
        code, file = codes[rows], files[rows].astype(TEXT)
        digits = code.str.len().astype(TEXT).where(code.str.fullmatch(r"\d{3,6}", na=False))
        text = "acct_code=" + code.fillna("") + (f" is not {length} digits" if length else " is not a code of digits")
        text = text + f" (chart.code_digits: {chart.setting(length)} in column_map.yaml)"
        mixes = _mixed_lengths(codes, files)
        mixed = file.map(mixes).astype(TEXT)
        one_length = (
            ". Fix: if the office's chart has "
            + digits
            + "-digit codes, set `chart: code_digits: "
            + digits
            + "`; else map them onto the chart under `chart: codes:`"
        )
        to_chart = (
            "; its file mixes "
            + mixed
            + ". Fix: map the codes of the other chart onto the office's under `chart: codes:` in column_map.yaml (`"
            + code.fillna("")
            + f": <its {length}-digit code>`)"
        )
        return text + to_chart.fillna(one_length).fillna("")

    return chart.wrong_length(codes), detail


def _mixed_lengths(codes: pd.Series, files: pd.Series) -> dict[str, str]:
    """Files whose all-digit codes have more than one length -> `3-digit (2 rows) and 5-digit (40 rows) codes`."""
    numeric = codes.str.fullmatch(r"\d+", na=False)
    counts = pd.DataFrame({"file": files[numeric].astype(str), "digits": codes[numeric].str.len()}).value_counts()
    mixes = {}
    for file, by_length in counts.groupby(level="file"):
        if len(by_length) > 1:
            lengths = by_length.droplevel("file").sort_index()
            mixes[file] = (
                " and ".join(
                    f"{digits}-digit ({rows} {'row' if rows == 1 else 'rows'})" for digits, rows in lengths.items()
                )
                + " codes"
            )
    return mixes
