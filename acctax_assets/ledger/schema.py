"""The ledger data contract (ARCHITECTURE.md §1): canonical column names, their usual Korean headers and the
code tables that turn numeric codes into words a model and a clerk can read."""

from __future__ import annotations

from collections.abc import Collection

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

CANONICAL_COLUMNS: tuple[str, ...] = tuple(KOREAN_HEADERS)

# What a ledger file must provide to be usable at all: each entry names alternatives, one of which must be
# present. A date (it decides the month), an amount (the supply amount, or the total from which cleaning
# derives it as total - VAT), and one text column a model and a clerk can read. The account code is only
# needed for training (a file without it is unlabelled); every other column is null when absent.
REQUIRED_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("date",),
    ("supply_amount", "total_amount"),
    ("party_name", "desc", "item"),
)
COMPANY_COLUMN = "company_name"
# Company booked for a file that has no company column and no `company:` for it in the column map's
# `sources:`. A constant rather than the file name: file names carry the period, so a name-derived company
# would change every month and split one client into many for the model.
DEFAULT_COMPANY = "(회사 미지정)"


def missing_required(columns: Collection[str]) -> list[tuple[str, ...]]:
    """The REQUIRED_COLUMNS entries of which none is among `columns`."""
    present = set(columns)
    return [group for group in REQUIRED_COLUMNS if present.isdisjoint(group)]


def describe_required(group: tuple[str, ...]) -> str:
    """`'supply_amount' (usual header '매입.공급가액') or 'total_amount' (...)`, for error messages."""
    return " or ".join(f"{c!r} (usual header {KOREAN_HEADERS[c]!r})" for c in group)


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
# Set by the reader to the totals marker (`합계`, `[월 계]` …) a line starts with or carries as its date, as
# written; empty for voucher lines. Only the reader knows the file's column order, so it decides.
SUMMARY_CELL = "summary_cell"
LINEAGE_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW, SOURCE_LABELLED, PARSE_ERROR, SUMMARY_CELL)

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
