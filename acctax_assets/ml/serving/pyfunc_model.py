"""Every registry version as an MLflow `pyfunc` model, so `mlflow.pyfunc.load_model("models:/acctax-account-
classifier@champion")` works in a notebook and `mlflow models serve -m models:/…@champion --env-manager local`
answers proposals over HTTP for another program, with no Dagster running.

Input: ledger rows as they appear in a landing file, under the office's headers (every header the column map
knows, `전표일자`, `거래처명`, `매입.공급가액` …, or the canonical names), cells as text or numbers; other columns
are ignored. The rows are read as a landing file is (`read_ledger_files`, `clean_ledger`, `build_features`, one
month at a time) and proposed by `Proposer`, the path `ledger_predictions` takes, so both give the same table.
Output: one row per proposed line: `input_row` (its position in the request), the proposal, its top-3, the
review flag and reason, and the serving version. A row the office's cleaning would reject for its values (a
malformed amount, a missing date …) fails the request with the row, the column and the fix (HTTP 400); a
structure line (subtotal, balance) or an exact repeat gets no proposal, as in a landing file.

What the MLflow model holds is how to serve a version, not a copy of its files: the stored candidate folder stays
the one source of truth (`acctax champion` lists it, rollback moves the alias over it), loaded through the
registry when the model loads, so a version whose folder was deleted fails exactly as `ledger_predictions` does.
The code is the installed `acctax_assets` (no `code_paths` snapshot): the server runs in the platform's own
environment (`--env-manager local`), and a snapshot would serve an older copy of the proposal code than
`ledger_predictions` runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types.schema import AnyType, ColSpec, Schema

from acctax_assets.errors import LedgerFileError
from acctax_assets.ledger.cleaning import REJECT_DETAIL, REJECT_REASON, CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import ColumnMap
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_files
from acctax_assets.ledger.line_kinds import STRUCTURE_KINDS
from acctax_assets.ledger.parsing import parse_dates
from acctax_assets.ledger.schema import SOURCE_ROW, USUAL_HEADERS, describe_required, missing_required
from acctax_assets.ml.serving.model_registry import ModelRegistry, redact_uri
from acctax_assets.ml.serving.served_model import Proposer, ServingSettings

# The request is read as a landing file of this name: no company, period or `sources:` glob is read from it.
REQUEST_FILE = "request.parquet"
# The spreadsheet row number of the request's first row (its header is row 1).
FIRST_ROW = 2
INPUT_ROW = "input_row"
OUTPUT_COLUMNS: dict[str, str] = {
    INPUT_ROW: "long",
    "predicted_code": "string",
    "predicted_name": "string",
    "confidence": "double",
    "top2_code": "string",
    "top2_confidence": "double",
    "top3_code": "string",
    "top3_confidence": "double",
    "needs_review": "boolean",
    "review_reason": "string",
    "served_model": "string",
}
# Rejections that are a file's structure or its repeats, not a fault of the row: no proposal, as in a landing file.
DROPPED_REASONS = frozenset({*STRUCTURE_KINDS, "duplicate", "superseded"})
# Rows named in a refused request's message (the rest are counted).
SHOWN_PROBLEMS = 5


class LedgerRowsError(MlflowException):
    """The request's rows cannot be proposed as they are (HTTP 400); the message names the rows, columns and fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def signature(column_map: ColumnMap) -> ModelSignature:
    """Input: every header the column map knows, optional, any cell type; output: OUTPUT_COLUMNS."""
    headers = column_map.for_file(REQUEST_FILE)
    return ModelSignature(
        inputs=Schema([ColSpec(AnyType(), header, required=False) for header in headers]),
        outputs=Schema([ColSpec(kind, name) for name, kind in OUTPUT_COLUMNS.items()]),
    )


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """The request as text cells, as a landing file holds them (a whole number sent as 1000.0 reads as 1000)."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.DataFrame({str(column): rows[column].map(cell) for column in rows.columns}, index=range(len(rows)))


def _refused(rejected: pd.DataFrame, rename: Mapping[str, str]) -> LedgerRowsError:
    """The error naming the first rejected rows, their reason and the column as the request named it."""
    headers = {canonical: header for header, canonical in rename.items()}
    lines = []
    for _, row in rejected.head(SHOWN_PROBLEMS).iterrows():
        detail = str(row[REJECT_DETAIL])
        named = [f"{headers[c]!r} ({c})" for c in headers if detail.startswith(f"{c}=") or f" {c}=" in detail]
        lines.append(
            f"input row {int(row[SOURCE_ROW]) - FIRST_ROW}: {row[REJECT_REASON]}: {detail}"
            + (f" [column {', '.join(named)}]" if named else "")
        )
    more = f"; and {len(rejected) - SHOWN_PROBLEMS} more rows" if len(rejected) > SHOWN_PROBLEMS else ""
    return LedgerRowsError(
        f"{len(rejected)} row(s) cannot be proposed as sent: {'; '.join(lines)}{more}. Fix: correct these cells "
        "(an amount as a number or as the ledger prints it, 1,100,000; a date as the export prints it) or leave the "
        "rows out: in a landing file they would be rejected too (rejected_ledger_rows)"
    )


def request_features(rows: pd.DataFrame, column_map: ColumnMap, settings: ServingSettings) -> list[pd.DataFrame]:
    """The request's rows as `ledger_features` of each month they fall in: read as a landing file, cleaned with
    the office's rules. Rows the cleaning rejects for their values refuse the request (LedgerRowsError)."""
    cells = _cells(rows)
    headers = list(cells.columns)
    missing = missing_required(column_map.map_headers(headers, REQUEST_FILE).rename.values())
    if missing:
        raise LedgerRowsError(
            f"missing required column(s) {'; '.join(describe_required(group) for group in missing)}; columns sent: "
            f"{headers}. Fix: send them under the headers of the office's export, or map the headers sent in "
            "$ACCTAX_HOME/column_map.yaml"
        )
    with tempfile.TemporaryDirectory(prefix="acctax-request-") as folder:
        path = Path(folder) / REQUEST_FILE
        cells.to_parquet(path, index=False)
        try:
            ledgers = read_ledger_files([path], column_map, Path(folder))
        except LedgerFileError as exc:
            raise LedgerRowsError(
                f"the rows cannot be read as a ledger: {exc.problem}. Fix: send the "
                f"ledger's columns under the headers of its export ({', '.join(USUAL_HEADERS.values())}) or the "
                "headers mapped in $ACCTAX_HOME/column_map.yaml"
            ) from exc
        raw = combine(ledgers)
    rename = ledgers[0].mapping.rename
    rules = CleaningRules(settings.max_abs_amount, settings.amount_tolerance, column_map.chart)
    months = parse_dates(raw["date"]).dt.to_period("M")
    first = months.dropna().min() if months.notna().any() else pd.Period("2000-01", freq="M")
    months = months.fillna(first)
    features, problems = [], []
    for month in sorted(months.unique()):
        result = clean_ledger(raw[months == month].reset_index(drop=True), f"{month}-01", rules)
        problems.append(result.rejected[~result.rejected[REJECT_REASON].isin(DROPPED_REASONS)])
        features.append(build_features(result.cleaned, settings.features))
    refused = pd.concat(problems, ignore_index=True).sort_values(SOURCE_ROW) if problems else pd.DataFrame()
    if len(refused):
        raise _refused(refused, rename)
    return features


def proposals(table: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """OUTPUT_COLUMNS of a prediction table, as plain values (None where empty) for JSON and notebooks alike."""
    out = table.assign(**{INPUT_ROW: features[SOURCE_ROW].to_numpy() - FIRST_ROW})
    for column in OUTPUT_COLUMNS:
        if column not in out:
            out[column] = None
    out = out[list(OUTPUT_COLUMNS)].astype(object)
    return out.where(out.notna(), None)


class AccountClassifierModel(PythonModel):
    """One registry version (`model_config`: registered model, kind, version, ServingSettings) proposing codes."""

    def load_context(self, context: PythonModelContext) -> None:
        """The version as the registry holds it now (figures such as the calibration temperature included), its
        files checked and loaded as `ledger_predictions` loads the champion."""
        import mlflow

        config = context.model_config
        self.settings = ServingSettings.from_config(config)
        self.column_map = self.settings.column_map()
        registry = ModelRegistry(config.get("tracking_uri") or mlflow.get_registry_uri(), config["registered_model"])
        entry = registry.candidate(config["kind"], config["version"])
        self.proposer = Proposer.load(
            entry, registry.versions(), self.settings.policy, self.settings.strong, self.settings.current_labels()
        )

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Proposals for the rows, in month order, each with its `input_row`."""
        tables = []
        for features in request_features(pd.DataFrame(model_input), self.column_map, self.settings):
            table, _ = self.proposer.propose(features)
            tables.append(proposals(table, features))
        if not tables:
            return pd.DataFrame({column: pd.Series(dtype=object) for column in OUTPUT_COLUMNS})
        return pd.concat(tables, ignore_index=True)


def _requirements() -> list[str]:
    """The installed platform (its dependencies follow from it); `--env-manager local` installs nothing."""
    try:
        return [f"acctax_assets=={package_version('acctax_assets')}"]
    except PackageNotFoundError:
        return ["acctax_assets"]


def log_candidate_model(
    client: Any,
    experiment_id: str,
    run_id: str | None,
    registered_model: str,
    tracking_uri: str,
    kind: str,
    version: str,
    settings: ServingSettings,
) -> str:
    """Log the MLflow model of one candidate (MLmodel, signature, model_config) as a LoggedModel of the run that
    trained it; returns its model id, which the registry version is created from."""
    from mlflow.entities import LoggedModelStatus
    from mlflow.pyfunc import save_model

    config = {
        "registered_model": registered_model,
        # Credentials are never stored: a redacted URI falls back to the tracking URI the loader is given.
        "tracking_uri": tracking_uri if redact_uri(tracking_uri) == tracking_uri else "",
        "kind": kind,
        "version": version,
        **settings.to_config(),
    }
    logged = client.create_logged_model(
        experiment_id,
        name=f"{kind}-{version}",
        source_run_id=run_id,
        tags={"acctax.kind": kind, "acctax.version": version},
        model_type="acctax-account-classifier",
    )
    with tempfile.TemporaryDirectory(prefix="acctax-model-") as folder:
        local = Path(folder) / "model"
        save_model(
            str(local),
            python_model=AccountClassifierModel(),
            signature=signature(settings.column_map()),
            model_config=config,
            pip_requirements=_requirements(),
            metadata={"acctax_kind": kind, "acctax_version": version},
        )
        client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return logged.model_id
