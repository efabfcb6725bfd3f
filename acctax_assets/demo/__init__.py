"""Synthetic 더존-style voucher-line exports, so the whole platform can be run, tested and demoed without a
client's real books. Its own package, outside `ledger/`, because it feeds the pipeline rather than being a
stage of it: `tables` (what it draws from), `world` and `generator` (the months), `files` (landing files),
`cli` (`python -m acctax_assets.demo`)."""

from acctax_assets.demo.cli import main
from acctax_assets.demo.files import ENCODING_CHOICES, file_layout, write_demo_ledger
from acctax_assets.demo.generator import DemoMonth, generate_month
from acctax_assets.demo.tables import (
    CHART_OF_ACCOUNTS,
    CODE_START_MONTH,
    DEFECT_KINDS,
    DEMO_COLUMNS,
    EXTRA_COLUMNS,
    MANUFACTURING_TWINS,
    RELATED_ACCOUNTS,
)

__all__ = [
    "CHART_OF_ACCOUNTS",
    "CODE_START_MONTH",
    "DEFECT_KINDS",
    "DEMO_COLUMNS",
    "ENCODING_CHOICES",
    "EXTRA_COLUMNS",
    "MANUFACTURING_TWINS",
    "RELATED_ACCOUNTS",
    "DemoMonth",
    "file_layout",
    "generate_month",
    "main",
    "write_demo_ledger",
]
