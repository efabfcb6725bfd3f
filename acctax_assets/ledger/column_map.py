"""Raw header -> canonical column mapping: the packaged defaults, extended by an office's own YAML."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from acctax_assets.errors import ColumnMapError
from acctax_assets.ledger.schema import CANONICAL_COLUMNS


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
    # Mappings already made, by (headers, matching source globs): a month's files mostly share one header.
    _mapped: dict[tuple[tuple[str, ...], tuple[str, ...]], ColumnMapping] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _matching(self, file_name: str) -> tuple[str, ...]:
        return tuple(pattern for pattern in self.sources if fnmatch.fnmatch(file_name, pattern))

    def for_file(self, file_name: str) -> dict[str, str]:
        """The aliases that apply to one file: globals, canonical names themselves, then source overrides."""
        aliases = {name: name for name in CANONICAL_COLUMNS}
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


def _validate(raw: object, origin: str) -> ColumnMap:
    if raw is None:
        return ColumnMap(columns={})
    if not isinstance(raw, dict):
        raise ColumnMapError(f"{origin}: expected a mapping with `columns` and `sources`, got {type(raw).__name__}")
    unexpected = set(raw) - {"columns", "sources"}
    if unexpected:
        raise ColumnMapError(f"{origin}: unknown top-level keys {sorted(unexpected)}; allowed: columns, sources")
    columns = raw.get("columns") or {}
    sources = raw.get("sources") or {}
    if not isinstance(columns, dict) or not isinstance(sources, dict):
        raise ColumnMapError(f"{origin}: `columns` and `sources` must be mappings")
    parsed = {str(pattern): _source(str(pattern), entry, origin) for pattern, entry in sources.items()}
    return ColumnMap(
        columns=_headers(columns, f"{origin}: columns"),
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
        extra = _validate(yaml.safe_load(override.read_text(encoding="utf-8")), str(override))
    except yaml.YAMLError as exc:
        raise ColumnMapError(f"{override}: not valid YAML ({exc})") from exc
    sources = dict(base.sources)
    for pattern, overrides in extra.sources.items():
        sources[pattern] = {**sources.get(pattern, {}), **overrides}
    return ColumnMap(
        columns={**base.columns, **extra.columns}, sources=sources, companies={**base.companies, **extra.companies}
    )
