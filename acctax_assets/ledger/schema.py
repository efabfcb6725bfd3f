"""The ledger data contract (ARCHITECTURE.md §1): canonical column names, their usual Korean headers and the
code tables that turn numeric codes into words a model and a clerk can read."""

from __future__ import annotations

from collections.abc import Collection, Sequence

# Canonical name -> the header a 더존-style export uses for it. The demo generator writes these headers
# and the default column map (config/column_map.yaml) maps them back.
KOREAN_HEADERS: dict[str, str] = {
    "date": "전표일자",
    "voucher_key": "전표키",
    "journal_key_count": "전표키_카운팅",
    "company_name": "회사.회사명",
    "vat_id_company": "회사.사업자등록번호",
    "company_business_type": "회사.업태",
    "company_business_item": "회사.종목",
    "taxpayer_type": "회사.과세유형",
    "party_code": "거래처코드",
    "party_name": "거래처명",
    "vat_id_party": "사업자등록번호",
    "business_type": "업태",
    "business_item": "종목",
    "desc": "적요명",
    "item": "매입.품명",
    "supply_amount": "매입.공급가액",
    "vat_amount": "매입.부가세",
    "total_amount": "매입.합계금액",
    "vat_type": "부가세유형",
    "document_type": "증빙코드",
    "dr_cr": "차변/대변",
    "acct_code": "계정과목코드",
    "acct_name": "계정과목",
}

# The amounts of the other form accounting programs print (계정별원장, 분개장, 거래처원장): a debit and a credit
# column, of which each line fills one, and often a running balance. Kept out of KOREAN_HEADERS, the 더존 voucher
# export the demo writes: cleaning reads a line's amount and direction (dr_cr) from the pair (see `clean_ledger`).
SIDE_AMOUNT_HEADERS: dict[str, str] = {
    "debit_amount": "차변",
    "credit_amount": "대변",
    "balance_amount": "잔액",
}
SIDE_AMOUNT_COLUMNS: tuple[str, ...] = ("debit_amount", "credit_amount")
BALANCE_COLUMN = "balance_amount"
# The platform's own export coming back after the clerk's review (`ledger/export.py` writes these headers beside the
# ledger's own columns): where each line came from and what was proposed. Known to every column map, typed by
# cleaning, never model inputs; absent from ordinary exports.
ANSWER_HEADERS: dict[str, str] = {
    "proposed_code": "추천계정코드",
    "proposal_confidence": "추천신뢰도",
    "needs_review": "검토필요",
    "review_reason": "검토사유",
    "top2_code": "대안계정코드2",
    "top2_confidence": "대안신뢰도2",
    "top3_code": "대안계정코드3",
    "top3_confidence": "대안신뢰도3",
    "served_model": "추천모델",
    "evidence": "근거",
    "original_code": "원계정과목코드",
    "original_name": "원계정과목",
    "origin_file": "원본파일",
    "origin_row": "원본행",
}
ANSWER_COLUMNS: tuple[str, ...] = tuple(ANSWER_HEADERS)
# Where each cleaned line's code came from: `coded` (booked without a proposal), `confirmed` (the clerk reviewed the
# proposal and kept it), `corrected` (the clerk changed it; the proposal stays in `proposed_code`), `unreviewed`
# (auto-accepted and unchanged); missing for unlabelled lines.
LABEL_SOURCE = "label_source"
LABEL_SOURCES: tuple[str, ...] = ("coded", "confirmed", "corrected", "unreviewed")
# Every canonical column and the header that usually names it.
USUAL_HEADERS: dict[str, str] = {**KOREAN_HEADERS, **SIDE_AMOUNT_HEADERS}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(USUAL_HEADERS)

# What a ledger file must provide to be usable at all: each entry names alternatives, one of which must be
# present, and an alternative is the columns that count only together. A date (it decides the month), an amount
# (the supply amount, the total from which cleaning derives it as total - VAT, or the debit and credit columns of
# a 계정별원장: one of them alone would read every line as the same side), and one text column a model and a clerk
# can read. The account code is only needed for training (a file without it is unlabelled); every other column
# is null when absent.
REQUIRED_COLUMNS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("date",),),
    (("supply_amount",), ("total_amount",), SIDE_AMOUNT_COLUMNS),
    (("party_name",), ("desc",), ("item",)),
)
COMPANY_COLUMN = "company_name"
# Company booked for a file that has no company column and no `company:` for it in the column map's
# `sources:`. A constant rather than the file name: file names carry the period, so a name-derived company
# would change every month and split one client into many for the model.
DEFAULT_COMPANY = "(회사 미지정)"


def missing_required(
    columns: Collection[str], required: Sequence[Sequence[Sequence[str]]] = REQUIRED_COLUMNS
) -> list[Sequence[Sequence[str]]]:
    """The `required` entries none of whose alternatives is wholly among `columns`."""
    present = set(columns)
    return [group for group in required if not any(present.issuperset(alternative) for alternative in group)]


def required_name(group: Sequence[Sequence[str]]) -> str:
    """`supply_amount|total_amount|debit_amount+credit_amount`: a REQUIRED_COLUMNS entry in one word."""
    return "|".join("+".join(alternative) for alternative in group)


def describe_required(group: Sequence[Sequence[str]]) -> str:
    """`'supply_amount' (usual header '매입.공급가액') or … or 'debit_amount' (usual header '차변') and
    'credit_amount' (usual header '대변')`, for error messages."""
    return " or ".join(
        " and ".join(f"{c!r} (usual header {USUAL_HEADERS[c]!r})" for c in alternative) for alternative in group
    )


AMOUNT_COLUMNS: tuple[str, ...] = ("supply_amount", "vat_amount", "total_amount")
LABEL_COLUMN = "acct_code"
LABEL_NAME_COLUMN = "acct_name"

# Row identity added at ingestion: which file (`<path>#<sheet>` for a sheet of a multi-sheet workbook) and
# which row number a spreadsheet shows for it.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
# True when the row's file carries the label column: rows of such files must have a label.
SOURCE_LABELLED = "source_labelled"
# Set by the reader when a line could not be split into the header's fields (truncated or overlong).
PARSE_ERROR = "parse_error"
# Set by the reader from the whole line (`line_kinds.classify_lines`): `transaction`, or the kind of structure
# line a report prints among them (balance_row, summary_row, header_row, title_row, page_artifact), and the cell
# that decided it as written (`[월 계]`); only the reader sees every cell of a line, so it decides.
LINE_KIND = "line_kind"
LINE_MARKER = "line_marker"
# Set by the reader where a line's date is not printed in full on it (report_context): "filled from the line
# above", "year from period line|title|file name"; "" when printed in full.
DATE_ORIGIN = "date_origin"
# The landing file's modification time (seconds since the epoch): of two answers to the same line, the later wins.
SOURCE_MTIME = "source_mtime"
LINEAGE_COLUMNS: tuple[str, ...] = (
    SOURCE_FILE,
    SOURCE_ROW,
    SOURCE_LABELLED,
    PARSE_ERROR,
    LINE_KIND,
    LINE_MARKER,
    DATE_ORIGIN,
    SOURCE_MTIME,
)

# 증빙코드 (evidence type) -> words.
DOCUMENT_TYPES: dict[str, str] = {
    "10": "tax_invoice",
    "11": "invoice_exempt",
    "20": "credit_card",
    "21": "debit_card",
    "22": "prepaid_card",
    "30": "cash_receipt_deduction",
    "31": "cash_receipt_expense",
    "32": "cash_receipt_self_issued",
    "40": "simple_receipt",
    "50": "no_evidence",
}

# 부가세유형 (VAT type) -> words; 11-24 are sales, 51-62 purchases.
VAT_TYPES: dict[str, str] = {
    "11": "sales_taxable",
    "12": "sales_zero_rated",
    "13": "sales_exempt",
    "14": "sales_unissued",
    "16": "sales_export",
    "17": "sales_card",
    "18": "sales_card_exempt",
    "22": "sales_cash_receipt",
    "24": "sales_other",
    "51": "purchase_taxable",
    "52": "purchase_zero_rated",
    "53": "purchase_exempt",
    "54": "purchase_non_deductible",
    "55": "purchase_import",
    "57": "purchase_card",
    "58": "purchase_card_exempt",
    "61": "purchase_cash_receipt",
    "62": "purchase_cash_receipt_exempt",
}

# 과세유형 of the client company -> words.
TAXPAYER_TYPES: dict[str, str] = {
    "1": "general_taxpayer",
    "2": "simplified_taxpayer",
    "3": "exempt_business",
    "4": "non_profit",
}

# 차변/대변 as exported: Korean words or 더존's numeric side codes (3 debit, 4 credit).
DR_CR: dict[str, str] = {
    "차변": "debit",
    "대변": "credit",
    "3": "debit",
    "4": "credit",
    "debit": "debit",
    "credit": "credit",
}
