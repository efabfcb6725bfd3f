"""What each line of a printed report is, decided from the whole line before any value is typed.

Korean accounting programs (더존 Smart A/iCUBE, KcLep, 세무사랑, 경리나라, 이카운트) print their ledgers as reports:
balances carried forward (전기이월, 차월이월), subtotals and totals (일계, 월계, 누계, 합계 …), the header again on
every page, the title/period/company lines, page numbers and footers (출력일시, 작성자) stand among the
transactions. A classifier that learns from these lines must never take a structure line for a transaction,
so every line gets a kind here, and only `transaction` lines are typed and validated; the others are rejected
with their kind as the reason (ARCHITECTURE.md §3).

A marker counts wherever it stands in the line's cells, however the program decorates it (`[일  계]`,
`** 월 계 **`, `<소계>`, `3월 월계`), but only as a whole cell: a counterparty called 합계상사 or a memo such as
`전기이월 미지급금 지급` is not a marker. A line without any marker stays a transaction even when it looks like a
total (a blank party and a round amount): kinds are read, never guessed from amounts.

The markers live in `LINE_MARKERS`; an office adds its program's words under `line_markers:` in the column map.
Matching runs on each column's distinct values with Arrow's RE2 kernels, so a million-row month pays for a few
thousand regex tests per column rather than one per cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TRANSACTION = "transaction"
# Kinds of structure lines, in the order that decides a line holding markers of several kinds. Each is also
# the reject reason of its lines (cleaning.REJECT_REASONS).
BALANCE_ROW = "balance_row"
SUMMARY_ROW = "summary_row"
HEADER_ROW = "header_row"
TITLE_ROW = "title_row"
PAGE_ARTIFACT = "page_artifact"
STRUCTURE_KINDS: tuple[str, ...] = (BALANCE_ROW, SUMMARY_ROW, HEADER_ROW, TITLE_ROW, PAGE_ARTIFACT)
# The kinds whose markers the column map may extend; header rows are recognised from the file's own header.
MARKER_KINDS: tuple[str, ...] = (BALANCE_ROW, SUMMARY_ROW, TITLE_ROW, PAGE_ARTIFACT)

# Whole-cell markers (compared without spaces and decoration) and label markers (`출력일시: …`, `기간 : …`: the
# label, then a colon or a digit). Report titles are whole cells: a memo that merely contains one is a memo.
LINE_MARKERS: dict[str, tuple[str, ...]] = {
    BALANCE_ROW: (
        "전기이월",
        "전월이월",
        "전일이월",
        "전년이월",
        "차월이월",
        "차기이월",
        "이월잔액",
        "이월금액",
        "전기이월액",
        "기초잔액",
        "기말잔액",
    ),
    SUMMARY_ROW: (
        "합계",
        "소계",
        "월계",
        "누계",
        "총계",
        "일계",
        "총합계",
        "당월계",
        "월합계",
        "누적합계",
        "당일계",
        "분기계",
        "반기계",
    ),
    TITLE_ROW: (
        "계정별원장",
        "거래처원장",
        "거래처별원장",
        "매입매출장",
        "매입장",
        "매출장",
        "분개장",
        "일계표",
        "월계표",
        "일월계표",
        "총계정원장",
        "합계잔액시산표",
        "현금출납장",
        "전표리스트",
        "전표목록",
    ),
    PAGE_ARTIFACT: (),
}
LABEL_MARKERS: dict[str, tuple[str, ...]] = {
    TITLE_ROW: ("기간", "조회기간", "회계기간", "회사명", "상호", "사업자등록번호", "대표자", "계정과목", "거래처"),
    PAGE_ARTIFACT: ("출력일시", "출력일자", "인쇄일시", "인쇄일자", "작성자", "작성일시", "작성일자", "페이지", "page"),
}
# Decoration programs print around markers (full-width forms included), removed with all whitespace before
# whole-cell comparison. Not NFKC: Arrow's utf8_normalize decomposes Hangul syllables into jamo.
_DECORATION = r"[\s\[\](){}<>*#=:.\-~·【】「」『』〔〕［］（）＜＞＊＃＝：．－～　]+"
# A month or day beside a subtotal marker: `3월 월계`, `월계(03월)`, `03/05 일계`.
_PERIOD_AFFIX = r"(?:\d{1,4}(?:년|월|일|/|\.)?)*"
# A cell that is only a page number: `- 1 -`, `1 / 3`, `Page 2 of 5`, `2 페이지`, `3쪽`.
_PAGE_NUMBER = (
    r"^\s*(?:-\s*\d+\s*-|\d+\s*/\s*\d+|(?i:page)\s*\d+(?:\s*(?:/|(?i:of))\s*\d+)?|\d+\s*(?:페이지|쪽|(?i:page))"
    r"|(?:페이지|쪽)\s*\d+(?:\s*/\s*\d+)?)\s*$"
)


def _whole_cell_pattern(markers: Iterable[str]) -> str | None:
    words = sorted({re.sub(_DECORATION, "", m) for m in markers if re.sub(_DECORATION, "", m)}, key=len, reverse=True)
    if not words:
        return None
    return f"^{_PERIOD_AFFIX}(?:{'|'.join(map(re.escape, words))}){_PERIOD_AFFIX}$"


# What may follow a label without a colon: for a title label a date (`기간 2024.03.01 ~ 2024.03.31`), for a footer
# label a date, time or number (`출력일시 2024-04-01 10:30`, `page 3`). `거래처 3` or `Page 1 Ltd` is a name.
_BARE_VALUE = {
    TITLE_ROW: r"\s+\d{4}\s*[-./년]\s*\d{1,2}[\d\s\-./:~년월일]*$",
    PAGE_ARTIFACT: r"\s+[\d\s\-./:~년월일시분초()]+$",
}


def _label_pattern(kind: str, labels: Iterable[str]) -> str | None:
    words = sorted({label.strip() for label in labels if label.strip()}, key=len, reverse=True)
    if not words:
        return None
    return rf"^[\s\[(<*]*(?i:{'|'.join(map(re.escape, words))})[\s\])>*]*(?:[:：]|{_BARE_VALUE[kind]})"


# Internal code of a page-number cell: it makes a line a page artifact only when little else is on the line.
_PAGE_NUMBER_CODE = len(STRUCTURE_KINDS)
_NONE = len(STRUCTURE_KINDS) + 1


@dataclass(frozen=True)
class LineMarkers:
    """The markers of each structure kind: the packaged table plus an office's `line_markers:`."""

    whole: dict[str, tuple[str, ...]]
    labels: dict[str, tuple[str, ...]]

    @classmethod
    def default(cls) -> LineMarkers:
        return cls(dict(LINE_MARKERS), dict(LABEL_MARKERS))

    def extended(self, extra: Mapping[str, Sequence[str]]) -> LineMarkers:
        """With an office's whole-cell markers added (`kind: [words]`, kinds from MARKER_KINDS)."""
        whole = dict(self.whole)
        for kind, words in extra.items():
            whole[kind] = (*whole.get(kind, ()), *words)
        return LineMarkers(whole, self.labels)

    def patterns(self) -> list[tuple[int, bool, str]]:
        """(code, on the normalized cell?, RE2 pattern) in the order kinds are decided: whole-cell markers run
        on the cell without spaces and decoration, labels and page numbers on the trimmed cell."""
        found = []
        for kind in MARKER_KINDS:
            code = STRUCTURE_KINDS.index(kind)
            whole = _whole_cell_pattern(self.whole.get(kind, ()))
            if whole:
                found.append((code, True, whole))
            label = _label_pattern(kind, self.labels.get(kind, ()))
            if label:
                found.append((code, False, label))
        found.append((_PAGE_NUMBER_CODE, False, _PAGE_NUMBER))
        return found

    def may_occur_in(self, text: str) -> bool:
        """Whether any marker or page number can occur in a body's text: one search, so a file of plain voucher
        lines (a million-row month has no marker) skips the per-column classification. It may say yes for a memo
        that merely contains a marker word; the classification then decides. Arrow's RE2 runs it in linear time, where
        Python's `re` backtracks over the same alternation (benchmarks/README.md, data_path.py)."""
        whole = [w for ws in self.whole.values() for w in ws]
        labels = [w for ws in self.labels.values() for w in ws]
        spaced = [r"\s*".join(map(re.escape, re.sub(_DECORATION, "", word))) for word in whole]
        pattern = "|".join(
            [
                *(w for w in spaced if w),
                *(rf"{re.escape(label)}\s*(?:[:：]|\s\d)" for label in labels),
                r"(?:^|[,\t\"])\s*(?:-\s*\d+\s*-|\d+\s*/\s*\d+)\s*(?:$|[,\t\"])",
                r"page\s*\d|\d\s*(?:페이지|쪽|page)|(?:페이지|쪽)\s*\d",
            ]
        )
        found = pc.match_substring_regex(pa.array([text], pa.large_string()), f"(?m){pattern}", ignore_case=True)
        return bool(found[0].as_py())


@dataclass(frozen=True)
class LineKinds:
    """Per line: its kind (TRANSACTION or one of STRUCTURE_KINDS) and the cell that decided it ("" for
    transactions)."""

    kind: pa.Array
    marker: pa.Array

    def count(self, kind: str) -> int:
        return int(pc.sum(pc.equal(self.kind, kind)).as_py() or 0)


def transactions_only(count: int) -> LineKinds:
    """Every line a transaction: for a body the quick look found no marker in."""
    return LineKinds(pa.repeat(TRANSACTION, count), pa.repeat("", count))


def _cell_codes(
    column: pa.Array | pa.ChunkedArray, patterns: list[tuple[int, bool, str]]
) -> tuple[np.ndarray, pa.Array]:
    """Per cell: the code of the first pattern the cell matches (_NONE if none), and the trimmed cell. The
    patterns run once per distinct value, and only on values that are not plain numbers (an amount column of a
    million rows has a million distinct values and no marker)."""
    trimmed = pc.utf8_trim_whitespace(column)
    if isinstance(trimmed, pa.ChunkedArray):
        trimmed = trimmed.combine_chunks()
    encoded = pc.dictionary_encode(trimmed)
    values = encoded.dictionary
    codes = np.full(len(values), _NONE, dtype=np.int8)
    wordy = pc.indices_nonzero(pc.match_substring_regex(values, r"[^\d,.]"))
    if len(wordy):
        candidates = values.take(wordy)
        normalized = pc.replace_substring_regex(candidates, _DECORATION, "")
        found = np.full(len(candidates), _NONE, dtype=np.int8)
        for code, on_normalized, pattern in patterns:
            text = normalized if on_normalized else candidates
            hit = pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False)
            found = np.where(hit & (found == _NONE), code, found)
        codes[wordy.to_numpy()] = found
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return codes[indices], values.take(encoded.indices)


def classify_lines(
    columns: Sequence[pa.Array | pa.ChunkedArray], header_rows: Sequence[Sequence[str]], markers: LineMarkers
) -> LineKinds:
    """The kind of every line of a body (its cells by column, under the printed header rows).

    A line that repeats the printed header in at least two of its cells (same column) is a repeated header,
    whatever else it holds (a header names 합계 too). Otherwise the first kind in STRUCTURE_KINDS order whose
    marker is one of its cells decides. A page number (`- 2 -`, `1/3`) counts only on a line with at most two
    filled cells, so `1/3` in a quantity column of a voucher line stays a quantity."""
    count = len(columns[0]) if columns else 0
    if not count:
        return transactions_only(0)
    patterns = markers.patterns()
    best = np.full(count, _NONE, dtype=np.int8)
    marker = pa.repeat("", count)
    page = np.zeros(count, dtype=bool)
    page_marker = pa.repeat("", count)
    filled = np.zeros(count, dtype=np.int16)
    repeats = np.zeros(count, dtype=np.int16)
    for position, column in enumerate(columns):
        codes, cells = _cell_codes(column, patterns)
        filled += pc.not_equal(cells, "").to_numpy(zero_copy_only=False)
        printed = sorted(
            {row[position].strip() for row in header_rows if position < len(row) and row[position].strip()}
        )
        if printed:
            repeats += pc.is_in(cells, pa.array(printed, pa.string())).to_numpy(zero_copy_only=False)
        first_page = (codes == _PAGE_NUMBER_CODE) & ~page
        page |= first_page
        page_marker = pc.if_else(pa.array(first_page), cells, page_marker)
        better = (codes < best) & (codes != _PAGE_NUMBER_CODE)
        best = np.where(better, codes, best)
        marker = pc.if_else(pa.array(better), cells, marker)
    header = repeats >= 2
    best = np.where(header, STRUCTURE_KINDS.index(HEADER_ROW), best)
    marker = pc.if_else(pa.array(header), "(header repeated)", marker)
    numbered = (best == _NONE) & page & (filled <= 2)
    best = np.where(numbered, STRUCTURE_KINDS.index(PAGE_ARTIFACT), best)
    marker = pc.if_else(pa.array(numbered), page_marker, marker)
    names = np.array([*STRUCTURE_KINDS, TRANSACTION, TRANSACTION], dtype=object)
    return LineKinds(pa.array(names[best], pa.string()), marker)
