"""The `python -m acctax_assets.demo` command line: drop a year of synthetic ledger exports into the landing
folder, so the sensor and the whole asset graph can be tried without real client data."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable
from pathlib import Path

from acctax_assets.demo.files import ENCODING_CHOICES, write_demo_ledger
from acctax_assets.paths import AcctaxHome

logger = logging.getLogger(__name__)

DEFAULT_XLSX_MONTH = "2024-06"


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}")
    return text


def _month_list(text: str) -> list[str]:
    return [_month(part.strip()) for part in text.split(",") if part.strip()]


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number not below `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(start: str, end: str) -> list[str]:
    """Every month from start to end, both included."""
    return [_month_name(m) for m in range(_month_index(start), _month_index(end) + 1)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acctax_assets.demo",
        description="Write synthetic 더존-style ledger exports (one file per month) into the landing folder.",
    )
    parser.add_argument("--start", type=_month, default="2024-01", help="first month, YYYY-MM (default 2024-01)")
    parser.add_argument("--end", type=_month, default="2024-12", help="last month, YYYY-MM (default 2024-12)")
    parser.add_argument("--rows-per-month", type=_at_least(1), default=2000, help="rows per file (default 2000)")
    parser.add_argument("--seed", type=_at_least(0), default=7, help="random seed (default 7)")
    parser.add_argument(
        "--encoding",
        choices=ENCODING_CHOICES,
        default="mixed",
        help="CSV encoding; 'mixed' rotates utf-8, utf-8-sig and cp949 by month (default mixed)",
    )
    parser.add_argument(
        "--xlsx-months",
        type=_month_list,
        default=None,
        help="comma-separated months to write as .xlsx; '' for none "
        "(default in mixed mode: 2024-06 if in range, else the middle month)",
    )
    parser.add_argument(
        "--unlabelled-months",
        type=_at_least(0),
        default=0,
        help="extra months after --end written without account codes: new months for the classifier to code (default 0)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ACCTAX_HOME/landing)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the files, log each one; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.end < args.start:
        parser.error(f"--end {args.end} is before --start {args.start}")
    months = months_between(args.start, args.end)
    unlabelled = [_month_name(_month_index(args.end) + n) for n in range(1, args.unlabelled_months + 1)]
    if args.xlsx_months is None:
        if args.encoding != "mixed":
            xlsx_months: list[str] = []
        elif DEFAULT_XLSX_MONTH in months:
            xlsx_months = [DEFAULT_XLSX_MONTH]
        else:
            xlsx_months = [months[len(months) // 2]]
    else:
        xlsx_months = args.xlsx_months
        outside = [m for m in xlsx_months if m not in months]
        if outside:
            parser.error(f"--xlsx-months {','.join(outside)} outside {args.start}..{args.end}")
    out_dir = args.out if args.out is not None else AcctaxHome.from_env().landing

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    paths = write_demo_ledger(
        out_dir, months + unlabelled, args.rows_per_month, args.seed, args.encoding, xlsx_months, unlabelled
    )
    logger.info("wrote %d files with %d rows each to %s", len(paths), args.rows_per_month, out_dir)
    return 0
