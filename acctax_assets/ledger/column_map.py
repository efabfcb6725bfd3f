"""Raw header -> canonical column mapping: the packaged defaults, extended by an office's own YAML."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from acctax_assets.errors import ColumnMapError
from acctax_assets.ledger.account_codes import AUTO, CODE_DIGITS, Chart
from acctax_assets.ledger.line_kinds import MARKER_KINDS, LineMarkers
from acctax_assets.ledger.schema import ANSWER_COLUMNS, ANSWER_HEADERS, CANONICAL_COLUMNS


def normalize_header(header: object) -> str:
    """Trim whitespace and a stray BOM so `' 전표일자'` and `'\\ufeff전표일자'` match `전표일자`."""
    return str(header).replace("\ufeff", "").strip()


def snake_case(header: str) -> str:
    """Snake-case an unknown header; Hangul is kept (it is a valid identifier character)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", normalize_header(header))
    text = re.sub(r"[^\w]+", "_", text.lower(), flags=re.UNICODE)
    return text.strip("_") or "unnamed"


@dataclass(frozen=True)
class ColumnMapping:
    """How one file's headers were mapped."""

    rename: dict[str, str]
    mapped: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class ColumnMap:
    """Header aliases, global and per source-file glob, and the company booked for files of a glob."""

    columns: dict[str, str]
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    companies: dict[str, str] = field(default_factory=dict)
    # The office's chart of accounts (`chart:`): how long its codes are, and codes of another chart mapped onto it.
    chart: Chart = field(default_factory=Chart)
    # The words that make a line a balance, subtotal, title or page line: packaged ones plus `line_markers:`.
    line_markers: LineMarkers = field(default_factory=LineMarkers.default)
    # Mappings already made, by (headers, matching source globs): a month's files mostly share one header.
    _mapped: dict[tuple[tuple[str, ...], tuple[str, ...]], ColumnMapping] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _matching(self, file_name: str) -> tuple[str, ...]:
        return tuple(pattern for pattern in self.sources if fnmatch.fnmatch(file_name, pattern))

    def for_file(self, file_name: str) -> dict[str, str]:
        """The aliases that apply to one file: globals, canonical names themselves, then source overrides."""
        aliases = {name: name for name in (*CANONICAL_COLUMNS, *ANSWER_COLUMNS)}
        # The platform's own export headers: a reviewed export is read back whatever the office's map says.
        aliases.update({header: column for column, header in ANSWER_HEADERS.items()})
        aliases.update(self.columns)
        for pattern in self._matching(file_name):
            aliases.update(self.sources[pattern])
        return aliases

    def company_for(self, file_name: str) -> str | None:
        """The configured company of a file without a company column (the last matching glob wins)."""
        matches = [company for pattern, company in self.companies.items() if fnmatch.fnmatch(file_name, pattern)]
        return matches[-1] if matches else None

    def map_headers(self, headers: list[str], file_name: str) -> ColumnMapping:
        """Rename headers to canonical names; unknown headers are kept, snake-cased, and reported."""
        key = (tuple(headers), self._matching(file_name))
        if key not in self._mapped:
            self._mapped[key] = self._map_headers(headers, file_name)
        return self._mapped[key]

    def _map_headers(self, headers: list[str], file_name: str) -> ColumnMapping:
        aliases = self.for_file(file_name)
        rename: dict[str, str] = {}
        mapped: list[str] = []
        unknown: list[str] = []
        seen: dict[str, str] = {}
        for header in headers:
            clean = normalize_header(header)
            target = aliases.get(clean)
            if target is None:
                target = snake_case(clean)
                unknown.append(clean)
            else:
                mapped.append(clean)
            if target in seen:
                raise ColumnMapError(
                    f"{file_name}: headers {seen[target]!r} and {clean!r} both map to column {target!r}. "
                    f"Fix: map one of them to another name in the `sources` section of the column map."
                )
            seen[target] = clean
            rename[header] = target
        return ColumnMapping(rename=rename, mapped=mapped, unknown=unknown)


# Keys of a `sources:` entry that are settings, not headers; a header literally named so goes under `columns:`.
SOURCE_SETTINGS = ("company", "columns")


def _headers(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ColumnMapError(f"{where} must map headers to column names, got {type(raw).__name__}")
    return {normalize_header(k): str(v) for k, v in raw.items()}


def _source(pattern: str, entry: object, origin: str) -> tuple[dict[str, str], str | None]:
    """One `sources:` entry: header aliases (flat, or nested under `columns:`) and an optional `company:`."""
    where = f"{origin}: sources[{pattern!r}]"
    if not isinstance(entry, dict):
        raise ColumnMapError(f"{where} must map headers to column names (and may set `company:`)")
    company = entry.get("company")
    if company is not None and (not isinstance(company, str) or not company.strip()):
        raise ColumnMapError(f"{where}.company must be the company's name as text, got {company!r}")
    flat = {k: v for k, v in entry.items() if k not in SOURCE_SETTINGS}
    aliases = {**_headers(flat, where), **_headers(entry.get("columns") or {}, f"{where}.columns")}
    return aliases, company.strip() if company else None


def _line_markers(raw: object, origin: str) -> dict[str, list[str]]:
    """`line_markers: {summary_row: [주계], balance_row: [전기말잔액]}`: an office's program's own words."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or any(kind not in MARKER_KINDS for kind in raw):
        raise ColumnMapError(
            f"{origin}: line_markers must map line kinds ({', '.join(MARKER_KINDS)}) to lists of marker words, got {raw!r}"
        )
    markers = {}
    for kind, words in raw.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ColumnMapError(f"{origin}: line_markers.{kind} must be a list of non-empty words, got {words!r}")
        markers[kind] = [w.strip() for w in words]
    return markers


def _chart(raw: object, origin: str, base: Chart) -> Chart:
    """`chart: {code_digits: 3, codes: {811: 81100}}`; a key left out keeps `base`'s setting, and `codes` add to
    `base`'s. YAML reads an unquoted code as a number: `811` stays 811, but one with a leading zero must be quoted."""
    if raw is None:
        return base
    allowed = {"code_digits", "codes"}
    if not isinstance(raw, dict) or not set(raw) <= allowed:
        raise ColumnMapError(
            f"{origin}: chart must be a mapping with `code_digits` (3 to 6, or auto) and `codes` (code: code), "
            f"got {raw!r}"
        )
    digits = raw.get("code_digits", base.code_digits)
    if digits != AUTO and (isinstance(digits, bool) or not isinstance(digits, int) or digits not in CODE_DIGITS):
        raise ColumnMapError(
            f"{origin}: chart.code_digits must be {CODE_DIGITS.start} to {CODE_DIGITS.stop - 1} (더존 5, KcLep and "
            f"세무사랑 3) or {AUTO} (the length most of a month's codes have), got {digits!r}"
        )
    codes = raw.get("codes") or {}
    if not isinstance(codes, dict):
        raise ColumnMapError(f"{origin}: chart.codes must map codes to codes (`811: 81100`), got {codes!r}")
    mapped = {str(source).strip(): str(target).strip() for source, target in codes.items()}
    target_digits = CODE_DIGITS if digits == AUTO else (digits,)
    for source, target in mapped.items():
        if not source.isdecimal() or not target.isdecimal() or len(target) not in target_digits:
            raise ColumnMapError(
                f"{origin}: chart.codes maps {source!r} to {target!r}; both must be codes of digits and the target "
                f"one of the office's chart (chart.code_digits: {digits})"
            )
    return Chart(code_digits=digits, codes={**base.codes, **mapped})


def _validate(raw: object, origin: str, base_chart: Chart | None = None) -> ColumnMap:
    """A column map file's content as a ColumnMap; `base_chart` is the chart its `chart:` section amends."""
    base_chart = base_chart or Chart()
    if raw is None:
        return ColumnMap(columns={}, chart=base_chart)
    if not isinstance(raw, dict):
        raise ColumnMapError(f"{origin}: expected a mapping with `columns` and `sources`, got {type(raw).__name__}")
    unexpected = set(raw) - {"columns", "sources", "chart", "line_markers"}
    if unexpected:
        raise ColumnMapError(
            f"{origin}: unknown top-level keys {sorted(unexpected)}; allowed: columns, sources, chart, line_markers"
        )
    columns = raw.get("columns") or {}
    sources = raw.get("sources") or {}
    if not isinstance(columns, dict) or not isinstance(sources, dict):
        raise ColumnMapError(f"{origin}: `columns` and `sources` must be mappings")
    parsed = {str(pattern): _source(str(pattern), entry, origin) for pattern, entry in sources.items()}
    return ColumnMap(
        line_markers=LineMarkers.default().extended(_line_markers(raw.get("line_markers"), origin)),
        columns=_headers(columns, f"{origin}: columns"),
        chart=_chart(raw.get("chart"), origin, base_chart),
        sources={pattern: aliases for pattern, (aliases, _) in parsed.items()},
        companies={pattern: company for pattern, (_, company) in parsed.items() if company},
    )


def load_column_map(override: Path | None = None) -> ColumnMap:
    """The packaged map, extended (and overridden key by key) by `override` when that file exists."""
    packaged = resources.files("acctax_assets.config").joinpath("column_map.yaml").read_text(encoding="utf-8")
    base = _validate(yaml.safe_load(packaged), "packaged column_map.yaml")
    if override is None or not override.exists():
        return base
    try:
        extra = _validate(yaml.safe_load(override.read_text(encoding="utf-8")), str(override), base.chart)
    except yaml.YAMLError as exc:
        raise ColumnMapError(f"{override}: not valid YAML ({exc})") from exc
    sources = dict(base.sources)
    for pattern, overrides in extra.sources.items():
        sources[pattern] = {**sources.get(pattern, {}), **overrides}
    return ColumnMap(
        columns={**base.columns, **extra.columns},
        sources=sources,
        companies={**base.companies, **extra.companies},
        chart=extra.chart,
        line_markers=extra.line_markers,
    )
