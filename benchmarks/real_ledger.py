"""Where the platform stands on a real ledger: the office's months land as they would, the last N arrive without
their account codes, `acctax materialize` runs with its defaults, and what the office receives for those months
is scored against the codes that were taken away — beside every registered candidate and two plain references
trained on exactly the labelled months the platform saw.

    .venv/bin/python benchmarks/real_ledger.py /work/shared/realdata/calderdale --holdout 6
    .venv/bin/python benchmarks/real_ledger.py --demo                        # the demo, last 2 months held out
    .venv/bin/python benchmarks/real_ledger.py LEDGER_DIR --against HEAD~3 --json /tmp/figures.json
    .venv/bin/python benchmarks/real_ledger.py LEDGER_DIR --keep -- --months 2021-01:2022-08   # after --: acctax's

LEDGER_DIR is a folder of monthly ledger files (or holds them in `months/`), in any format the platform reads;
months and columns are found the way the platform finds them (file name or dates; the column map), so nothing
here is specific to one organisation. Labelled months before the last N land as they are; each table of the last
N labelled months is written as a UTF-8 CSV under its file's name without the label columns (acct_code and
acct_name by the column map), which is how an uncoded month arrives. ACCTAX_FIRST_MONTH is the first month.

What is scored, on the same held-out rows (every row that carries a code of the office's chart, `chart:` in the column
map; totals lines and rows without a valid code are counted, not scored):
- served: the `ledger_predictions` Parquet partitions, joined back to the true code by source file and row; rows
  that cleaning rejected count as not proposed (wrong, and reviewed);
- every registered candidate of the served dataset version, loaded with `load_served` and scored on the
  held-out `ledger_features` exactly as `ledger_predictions` scores them (same serialization, threshold and table
  functions), in a subprocess with the scored side's code;
- references on the raw columns mapped to canonical names, trained on the labelled months that landed:
  (a) the most frequent code per (company, counterparty), backoff counterparty → company → global;
  (b) TF-IDF char_wb (2,4) sublinear over "company | counterparty | memo | item | amount" + LinearSVC(C=0.5).

Figures: accuracy; macro F1 (sklearn's: labels present in truth or proposals; "not proposed" is no label);
top-3; the review share of the configured queue (its threshold from the model's valid rows; rejected rows are reviewed); the review share
the least confident rows must take for the rest to be 90 % right; and with the least confident 40 % reviewed, the
rest's accuracy and the share of all errors caught. References have no threshold; the lookup has no ranking.

`--against REV` runs the same with git revision REV's code (a temporary worktree; `python -m acctax_assets.cli` and
the candidate scoring with PYTHONPATH at it) on the same landed files, and prints both sides and their difference.
If REV's code cannot score candidates, only its served proposals are scored, and the output says why.

Before: 4d21f84 (a worktree of it, this script copied in, PYTHONPATH at it), 2-core CPU shared with other work
(training ran at 9-18 samples/s instead of ~90: wall times are upper bounds). Columns: accuracy, macro F1, top-3,
review share of the configured queue (97 % target), review share for a 90 % right rest, rest accuracy and errors
caught with the least confident 40 % reviewed.

Calderdale (`/work/shared/realdata/calderdale --holdout 6`): 18 months train (34,878 rows, 63 codes), 2022-03 …
2022-08 held out (11,618 rows, 57 codes, 1 row of an unseen code). acctax materialize 2,760 s (training 2,421 s).
1,828 held-out rows (15.7 %) are rejected as `duplicate` (identical lines, no voucher key: repeat payments) and so
not proposed, as are 6,123 of the 34,878 train rows; the lookup gets 0.937 of those rejected rows right. Served on
its 9,790 proposed rows: 0.820 (lookup on the same rows 0.794). Candidates re-scored month by month on the same home
(as this script does since 470c70e; scored all at once, the int8 adapter read 0.615).

| model | acc | macro F1 | top-3 | queue | for 90 % | rest @40 % | caught @40 % |
|---|---|---|---|---|---|---|---|
| served: ensemble (valid macro F1 0.6815 vs baseline 0.6550) | 0.691 | 0.525 | 0.792 | 0.771 | 0.304 | 0.931 | 0.867 |
| adapter | 0.618 | 0.304 | 0.756 | 0.900 | 0.488 | 0.862 | 0.783 |
| baseline | 0.684 | 0.506 | 0.795 | 0.824 | 0.370 | 0.908 | 0.826 |
| ensemble | 0.691 | 0.525 | 0.792 | 0.771 | 0.304 | 0.931 | 0.867 |
| reference: lookup | 0.816 | 0.553 | – | – | – | – | – |
| reference: TF-IDF + LinearSVC | 0.879 | 0.568 | 0.954 | – | 0.040 | 0.970 | 0.854 |

Demo (`--demo`: 12 months × 2,000 rows, 2024-11 and 2024-12 held out): 10 months train (19,929 rows, 48 codes),
3,990 held-out rows (50 codes, 3 unseen: 53 rows), 70 rejected (the demo's faults and 19 duplicates).
acctax materialize 1,348 s (training 1,217 s). Served on its 3,920 proposed rows: 0.938.

| model | acc | macro F1 | top-3 | queue | for 90 % | rest @40 % | caught @40 % |
|---|---|---|---|---|---|---|---|
| served: ensemble (valid macro F1 0.9399 vs adapter 0.9149) | 0.922 | 0.825 | 0.958 | 0.956 | 0.000 | 0.972 | 0.785 |
| adapter | 0.920 | 0.815 | 0.958 | 1.000 | 0.000 | 0.973 | 0.796 |
| baseline | 0.902 | 0.782 | 0.957 | 0.777 | 0.000 | 0.965 | 0.787 |
| ensemble | 0.922 | 0.825 | 0.958 | 0.956 | 0.000 | 0.972 | 0.785 |
| reference: lookup | 0.655 | 0.496 | – | – | – | – | – |
| reference: TF-IDF + LinearSVC | 0.927 | 0.741 | 0.963 | – | 0.000 | 0.962 | 0.683 |
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from revisions import REPO, checkout
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from acctax_assets.ledger.account_codes import Chart, account_codes
from acctax_assets.ledger.column_map import ColumnMap, load_column_map
from acctax_assets.ledger.ingestion import LedgerFile, combine, read_ledger_files
from acctax_assets.ledger.landing import list_landing_files, month_of_file
from acctax_assets.ledger.line_kinds import TRANSACTION
from acctax_assets.ledger.parsing import read_parquet_frame
from acctax_assets.ledger.schema import (
    LABEL_COLUMN,
    LABEL_NAME_COLUMN,
    LINE_KIND,
    SOURCE_FILE,
    SOURCE_LABELLED,
    SOURCE_ROW,
)
from acctax_assets.paths import AcctaxHome

ACCTAX_MODULE = "acctax_assets.cli"
DEFAULT_HOLDOUT, DEMO_HOLDOUT = 6, 2
REVIEW_SHARE = 0.4
RIGHT_SHARE = 0.9
KEY = [SOURCE_FILE, SOURCE_ROW]
PROPOSAL_COLUMNS = ("predicted_code", "top2_code", "top3_code", "confidence", "needs_review")
REFERENCE_FIELDS = ("company_name", "party_name", "desc", "item", "supply_amount")
# Not a label: a rejected row's "proposal", so it counts wrong without entering macro F1's label set.
NOT_PROPOSED = "(not proposed)"
FIGURES = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"),
    ("top3", "top-3"),
    ("review_at_target", "review share (configured queue)"),
    ("review_for_90", "review share for 90 % right rest"),
    ("rest_accuracy_at_40", "rest accuracy @40 % review"),
    ("errors_caught_at_40", "errors caught @40 % review"),
)
Figures = dict[str, float | None]


@dataclass(frozen=True)
class Month:
    """One partition's files as the platform reads them."""

    key: str
    tables: list[LedgerFile]

    @property
    def labelled(self) -> bool:
        return all(LABEL_COLUMN in ledger.table.column_names or ledger.labelled_rows for ledger in self.tables)


@dataclass(frozen=True)
class Landed:
    """What was landed: the months, the held-out truth keyed by landed file and row, and the references' rows."""

    first_month: str
    train_months: list[str]
    held_out_months: list[str]
    other_months: list[str]
    truth: pd.DataFrame
    unscored_rows: int
    train: pd.DataFrame


def tree_name(tree: Path) -> str:
    """The tree's commit, marked when its tracked files differ from it (the code measured is not that commit)."""
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run(["git", "-C", str(tree), "diff", "--quiet", "HEAD"]).returncode != 0
    return f"this tree: {commit.stdout.strip()}{' + changes' if changed else ''}"


def ledger_folder(path: Path) -> Path:
    return path / "months" if (path / "months").is_dir() else path


def read_months(source: Path, column_map: ColumnMap) -> list[Month]:
    """Every ledger file of `source` in the month the platform would put it in (a period in its name, else its
    dates), read by the platform's reader: canonical columns, source file and row."""
    by_month: dict[str, list[Path]] = defaultdict(list)
    for path in list_landing_files(source):
        month = month_of_file(path, column_map, source)
        if month is None:
            raise SystemExit(f"{path}: neither its name nor its dates say which month it belongs to")
        by_month[month].append(path)
    if not by_month:
        raise SystemExit(f"no ledger file in {source}")
    return [Month(key, read_ledger_files(paths, column_map, source)) for key, paths in sorted(by_month.items())]


def codes(frame: pd.DataFrame, chart: Chart) -> pd.Series:
    """Per row: its account code as cleaning reads it (the code column's, else one the account-name column carries,
    mapped by `chart: codes:`) when it is a labelled voucher line whose code has the chart's length, else NA
    (structure lines, blank or invalid codes), as cleaning's label rules decide."""
    blank = pd.Series("", index=frame.index)
    code = account_codes(frame.get(LABEL_COLUMN, blank), frame.get(LABEL_NAME_COLUMN, blank), chart).code
    voucher = frame[LINE_KIND].eq(TRANSACTION) & frame[SOURCE_LABELLED].astype(bool)
    return code.where(voucher & ~chart.wrong_length(code))


def write_uncoded(ledger: LedgerFile, source: Path, landing: Path, sheet: int | None) -> pd.DataFrame:
    """The table under its raw headers minus the label columns, as UTF-8 CSV at its file's landing place (a
    workbook sheet as `<name>__<n>.csv`); returns its rows keyed by the landed file and the row a spreadsheet shows."""
    relative = ledger.path.relative_to(source)
    name = relative.with_suffix(".csv") if sheet is None else relative.with_name(f"{relative.stem}__{sheet}.csv")
    frame = ledger.frame
    kept = {
        raw: canonical
        for raw, canonical in ledger.mapping.rename.items()
        if canonical not in (LABEL_COLUMN, LABEL_NAME_COLUMN)
    }
    target = landing / name
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({raw: frame[canonical] for raw, canonical in kept.items()}).to_csv(
        target, index=False, encoding="utf-8-sig"
    )
    rows = frame.drop(columns=[SOURCE_FILE, SOURCE_ROW])
    return rows.assign(**{SOURCE_FILE: name.as_posix(), SOURCE_ROW: np.arange(len(frame), dtype=np.int64) + 2})


def land(months: list[Month], holdout: int, source: Path, landing: Path, chart: Chart) -> Landed:
    """Labelled months before the last `holdout` ones (and unlabelled months) as they are; the last `holdout`
    labelled months without their label columns."""
    labelled = [m.key for m in months if m.labelled]
    if len(labelled) <= holdout:
        raise SystemExit(f"{len(labelled)} labelled month(s) in {source}: cannot hold out {holdout} and train")
    held_out = labelled[-holdout:]
    held: list[pd.DataFrame] = []
    train: list[pd.DataFrame] = []
    for month in months:
        if month.key in held_out:
            sheets = Counter(ledger.path for ledger in month.tables)
            seen: Counter[Path] = Counter()
            for ledger in month.tables:
                seen[ledger.path] += 1
                sheet = seen[ledger.path] if sheets[ledger.path] > 1 else None
                held.append(write_uncoded(ledger, source, landing, sheet))
            continue
        for path in {ledger.path for ledger in month.tables}:
            target = landing / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        if month.labelled:
            frame = combine(month.tables)
            code = codes(frame, chart)
            train.append(frame[code.notna()].assign(**{LABEL_COLUMN: code}))
    rows = pd.concat(held, ignore_index=True)
    code = codes(rows, chart)
    scored = code.notna()
    truth = rows[scored].assign(**{LABEL_COLUMN: code}).reset_index(drop=True)
    truth[SOURCE_FILE] = truth[SOURCE_FILE].astype(str)
    return Landed(
        first_month=months[0].key,
        train_months=[m for m in labelled if m not in held_out],
        held_out_months=held_out,
        other_months=[m.key for m in months if not m.labelled],
        truth=truth,
        unscored_rows=int((~scored).sum()),
        train=pd.concat(train, ignore_index=True),
    )


def demo_ledger(folder: Path, months: int, rows: int) -> Path:
    """The bundled demo's labelled months from 2024-01 (its default formats and encodings)."""
    from acctax_assets import demo

    end = pd.Period("2024-01", freq="M") + months - 1
    demo.main(["--start", "2024-01", "--end", str(end), "--rows-per-month", str(rows), "--out", str(folder)])
    return folder


# -- the references: plain yardsticks on the raw columns --------------------------------------------------------


def reference_text(frame: pd.DataFrame) -> pd.Series:
    fields = frame.reindex(columns=list(REFERENCE_FIELDS), fill_value="").fillna("").astype(str)
    return fields[REFERENCE_FIELDS[0]].str.cat([fields[c] for c in REFERENCE_FIELDS[1:]], sep=" | ")


def lookup_reference(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The most frequent code per (company, counterparty), backoff counterparty → company → global."""
    train = train.reindex(columns=["company_name", "party_name", LABEL_COLUMN], fill_value="").astype(str)
    test = test.reindex(columns=["company_name", "party_name"], fill_value="").astype(str)

    def mode(codes: pd.Series) -> str:
        return str(codes.value_counts().index[0])

    pair = train.groupby(["company_name", "party_name"])[LABEL_COLUMN].agg(mode).to_dict()
    party = train.groupby("party_name")[LABEL_COLUMN].agg(mode).to_dict()
    company = train.groupby("company_name")[LABEL_COLUMN].agg(mode).to_dict()
    overall = mode(train[LABEL_COLUMN])
    codes = [
        pair.get((c, p)) or party.get(p) or company.get(c) or overall
        for c, p in zip(test["company_name"], test["party_name"], strict=True)
    ]
    return pd.DataFrame({"predicted_code": codes})


def tfidf_reference(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """TF-IDF char_wb (2,4) sublinear + LinearSVC(C=0.5); its decision values rank the top 3 and the review."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    model = LinearSVC(C=0.5).fit(vectorizer.fit_transform(reference_text(train)), train[LABEL_COLUMN].astype(str))
    scores = model.decision_function(vectorizer.transform(reference_text(test)))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :3]
    top = model.classes_[order]
    return pd.DataFrame(
        {
            "predicted_code": top[:, 0],
            "top2_code": top[:, 1],
            "top3_code": top[:, 2],
            "confidence": np.take_along_axis(scores, order[:, :1], axis=1)[:, 0],
        }
    )


# -- figures ---------------------------------------------------------------------------------------------------


def score(truth: pd.Series, proposals: pd.DataFrame) -> Figures:
    """The figures of one model's proposals, row-aligned with `truth`; a missing proposal is wrong (and reviewed)."""
    true = truth.astype(str).to_numpy()
    first = proposals["predicted_code"].astype(object)
    proposed = first.notna().to_numpy()
    predicted = np.where(proposed, first.fillna(NOT_PROPOSED).astype(str).to_numpy(), NOT_PROPOSED)
    right = predicted == true
    labels = sorted(set(true) | set(predicted[proposed]))
    figures: Figures = {
        "accuracy": float(right.mean()),
        "macro_f1": float(f1_score(true, predicted, labels=labels, average="macro", zero_division=0)),
        "top3": None,
        "review_at_target": None,
        "review_for_90": None,
        "rest_accuracy_at_40": None,
        "errors_caught_at_40": None,
    }
    if "top3_code" in proposals:
        ranked = proposals[["predicted_code", "top2_code", "top3_code"]].astype(object).fillna(NOT_PROPOSED)
        figures["top3"] = float(ranked.astype(str).eq(pd.Series(true, index=ranked.index), axis=0).any(axis=1).mean())
    if "needs_review" in proposals:
        figures["review_at_target"] = float(proposals["needs_review"].astype("boolean").fillna(True).mean())
    if "confidence" in proposals:
        confidence = proposals["confidence"].astype("float64").fillna(-np.inf).to_numpy()
        figures.update(review_figures(confidence, right))
    return figures


def review_figures(confidence: np.ndarray, right: np.ndarray) -> Figures:
    """Reviewing the least confident rows first: the share needed for the rest to be RIGHT_SHARE right, and at
    REVIEW_SHARE the rest's accuracy and the share of all errors caught."""
    ordered = right[np.argsort(confidence, kind="stable")]
    total = len(ordered)
    rest_right = np.cumsum(ordered[::-1])[::-1]  # right rows among ordered[k:]
    rest_accuracy = rest_right / np.arange(total, 0, -1)
    enough = np.flatnonzero(rest_accuracy >= RIGHT_SHARE)
    reviewed = round(REVIEW_SHARE * total)
    errors = int((~ordered).sum())
    return {
        "review_for_90": float(enough[0] / total) if enough.size else 1.0,
        "rest_accuracy_at_40": float(ordered[reviewed:].mean()) if reviewed < total else None,
        "errors_caught_at_40": float((~ordered[:reviewed]).sum() / errors) if errors else None,
    }


def aligned(truth: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """A proposal table's rows in the order of `truth`, joined on source file and row (NA where none)."""
    columns = [c for c in PROPOSAL_COLUMNS if c in table]
    table = table[[*KEY, *columns]].astype({SOURCE_FILE: str, SOURCE_ROW: "int64"})
    return truth[KEY].merge(table, on=KEY, how="left", validate="one_to_one")


# -- one side: a tree's code on its own ACCTAX_HOME ----------------------------------------------------------------


def side_env(tree: Path, home: Path, first_month: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ACCTAX_HOME": str(home),
        "ACCTAX_FIRST_MONTH": first_month,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(tree),
    }
    env.pop("DAGSTER_HOME", None)  # the instance lives in this home
    return env


def read_partitions(home: AcctaxHome, asset: str, months: Sequence[str]) -> pd.DataFrame:
    paths = [home.storage / asset / f"{month}.parquet" for month in months]
    frames = [read_parquet_frame(path) for path in paths if path.exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEY)


def served_decision(home: AcctaxHome) -> dict[str, str]:
    """served_classifier's `reason` and `comparison` metadata, as the side's run recorded them."""
    from dagster import AssetKey, DagsterInstance

    from acctax_assets.defs.metadata_format import table_text

    with DagsterInstance.from_config(str(home.root / "dagster")) as instance:
        event = instance.get_latest_materialization_event(AssetKey("served_classifier"))
    if event is None or event.asset_materialization is None:
        return {"reason": "served_classifier was not materialized", "comparison": ""}
    metadata = event.asset_materialization.metadata
    return {key: table_text(metadata[key]) if key in metadata else "" for key in ("reason", "comparison")}


def candidate_tables(tree: Path, home: AcctaxHome, landed: Landed, env: dict[str, str]) -> tuple[list[dict], str]:
    """Every candidate's proposals for the held-out rows, scored by `tree`'s code in a subprocess; with a note
    when that code could not score them."""
    out = home.root / "candidates"
    out.mkdir(exist_ok=True)
    command = [sys.executable, __file__, "--score-home", str(home.root), "--score-out", str(out)]
    done = subprocess.run(
        [*command, "--score-months", *landed.held_out_months], env=env, capture_output=True, text=True
    )
    index = out / "index.json"
    if done.returncode or not index.exists():
        return [], f"candidates not scored with this code (exit {done.returncode}): {done.stderr.strip()[-1500:]}"
    listing = json.loads(index.read_text(encoding="utf-8"))
    return listing["candidates"], listing.get("error", "")


def score_side(name: str, tree: Path, home: AcctaxHome, landed: Landed, extra: Sequence[str], module: str) -> dict:
    """`acctax materialize` with `tree`'s code on `home`, then every model of that run on the held-out rows."""
    env = side_env(tree, home.root, landed.first_month)
    log = home.root / "materialize.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as stream:
        done = subprocess.run(
            [sys.executable, "-m", module, "materialize", *extra],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            cwd=home.root,
        )
    wall = time.perf_counter() - started
    predictions = read_partitions(home, "ledger_predictions", landed.held_out_months)
    if predictions.empty:
        tail = log.read_text(encoding="utf-8")[-3000:]
        raise SystemExit(
            f"{name}: no ledger_predictions for {landed.held_out_months} (exit {done.returncode}):\n{tail}"
        )
    rejected = read_partitions(home, "rejected_ledger_rows", landed.held_out_months).reindex(
        columns=[*KEY, "reject_reason"]
    )
    truth = landed.truth
    served = aligned(truth, predictions)
    rejected_keys = truth[KEY].merge(
        rejected[[*KEY, "reject_reason"]].astype({SOURCE_FILE: str, SOURCE_ROW: "int64"}),
        on=KEY,
        how="left",
        validate="one_to_one",
    )
    is_proposed = served["predicted_code"].notna()
    is_rejected = rejected_keys["reject_reason"].notna()
    models = [{"model": f"served: {', '.join(sorted(set(predictions['served_model'].astype(str))))}", "key": "served"}]
    models[0].update(score(truth[LABEL_COLUMN], served))
    tables, note = candidate_tables(tree, home, landed, env)
    for entry in tables:
        row = {"model": f"candidate {entry['label']}", "key": entry["kind"]}
        if "file" in entry:
            row.update(
                score(truth[LABEL_COLUMN], aligned(truth, pd.read_parquet(home.root / "candidates" / entry["file"])))
            )
        else:
            note += f"\n{entry['label']} not scored: {entry['error']}"
        models.append(row)
    return {
        "side": name,
        "materialize_seconds": round(wall, 1),
        "materialize_exit": done.returncode,
        "materialize_log": str(log),
        "proposed_rows": int(is_proposed.sum()),
        "served_accuracy_on_proposed": float(served["predicted_code"].eq(truth[LABEL_COLUMN])[is_proposed].mean()),
        "rejected_rows": int(is_rejected.sum()),
        "rejected_by_reason": {str(k): int(v) for k, v in rejected_keys["reject_reason"].value_counts().items()},
        "proposed_and_rejected_rows": int((is_proposed & is_rejected).sum()),
        "unaccounted_rows": int((~is_proposed & ~is_rejected).sum()),
        "decision": served_decision(home),
        "candidates_note": note.strip(),
        "models": models,
    }


def served_threshold(eval_rows: pd.DataFrame, settings: Any) -> Any:
    """The review threshold as the scored side's ledger_predictions derives it from the candidate's valid rows:
    with the configured review policy (a5edcf1 on) or, in older revisions, the target accuracy and minimum rows."""
    from acctax_assets.ml.evaluation.confidence import valid_threshold

    if hasattr(settings, "review_policy"):
        return valid_threshold(eval_rows, settings.review_policy())
    return valid_threshold(eval_rows, settings.review_target_accuracy, settings.review_min_auto_rows)


def score_candidates(home_root: Path, months: Sequence[str], out: Path) -> None:
    """(Subprocess, with the scored side's code.) Every registered candidate of the served dataset version on the
    held-out `ledger_features`, as ledger_predictions scores them; one Parquet per candidate and an index."""
    from acctax_assets.defs.ml_resources import ModelSettings, tracking_uri
    from acctax_assets.ml.data.serialization import serialize_rows
    from acctax_assets.ml.serving.model_registry import ModelRegistry
    from acctax_assets.ml.serving.predictions import prediction_table
    from acctax_assets.ml.serving.served_model import load_served

    home = AcctaxHome(home_root)
    settings = ModelSettings()
    registry = ModelRegistry(tracking_uri(home))
    served_dataset = registry.resolve().dataset_version
    # Month by month, as ledger_predictions scores them: an int8 adapter quantizes activations per batch, so only
    # the same batches (a month's distinct texts) give the served figures exactly.
    monthly = [read_partitions(home, "ledger_features", [month]) for month in months]
    listing = []
    for entry in registry.versions():
        if entry.dataset_version != served_dataset:
            continue
        record: dict[str, Any] = {"label": entry.label, "kind": entry.kind}
        try:
            model = load_served(entry, batch_size=32)
            threshold = served_threshold(model.eval_rows, settings)
            tables = []
            for features in (frame for frame in monthly if not frame.empty):
                texts = serialize_rows(features, model.text_spec.text_features).astype(str).tolist()
                tables.append(
                    prediction_table(features, model.predict(texts), model.label_slots, threshold, model.label)
                )
            table = pd.concat(tables, ignore_index=True)
            record["file"] = f"v{entry.registry_version}.parquet"
            table[[*KEY, *PROPOSAL_COLUMNS]].to_parquet(out / record["file"], index=False)
        except Exception as exc:  # a kind this code cannot load or score is reported beside the others
            record["error"] = f"{type(exc).__name__}: {exc}"
        listing.append(record)
    (out / "index.json").write_text(json.dumps({"candidates": listing}, ensure_ascii=False), encoding="utf-8")


# -- report ------------------------------------------------------------------------------------------------------


def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def model_table(models: Sequence[dict]) -> str:
    frame = pd.DataFrame([{"model": m["model"], **{title: cell(m.get(key)) for key, title in FIGURES}} for m in models])
    return frame.to_markdown(index=False, disable_numparse=True)


def side_by_side(before: dict, after: dict) -> str:
    """Each model's figures (served, candidates by kind) as `REV → this tree (Δ)`; the references are the same on
    both sides."""

    def change(was: float | None, now: float | None) -> str:
        delta = f" ({now - was:+.3f})" if was is not None and now is not None else ""
        return f"{cell(was)} → {cell(now)}{delta}"

    old = {m["key"]: m for m in before["models"]}
    keys = [m["key"] for m in after["models"]] + [k for k in old if k not in {m["key"] for m in after["models"]}]
    new = {m["key"]: m for m in after["models"]}
    rows = [
        {"model": key, **{title: change(old.get(key, {}).get(f), new.get(key, {}).get(f)) for f, title in FIGURES}}
        for key in keys
    ]
    wall = f"{before['materialize_seconds']:.0f} s → {after['materialize_seconds']:.0f} s"
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    return f"{before['side']} → {after['side']}; acctax materialize wall time {wall}\n\n{table}"


def print_report(report: dict) -> None:
    setup = report["setup"]
    print(f"\n# {setup['ledger']}")
    print(
        f"months: {len(setup['train_months'])} train ({setup['train_months'][0]} … {setup['train_months'][-1]}), "
        f"{len(setup['held_out_months'])} held out ({', '.join(setup['held_out_months'])})"
        + (f", {len(setup['other_months'])} unlabelled landed as they are" if setup["other_months"] else "")
    )
    print(
        f"rows: {setup['train_rows']:,} labelled train rows (references), {setup['held_out_rows']:,} held-out rows "
        f"scored, {setup['unscored_rows']:,} held-out lines without a valid code (totals, blank/invalid codes) not scored"
    )
    print(
        f"codes: {setup['train_codes']} in train, {setup['held_out_codes']} in held-out, {setup['unseen_codes']} "
        f"held-out codes unseen in train ({setup['unseen_rows']:,} rows)"
    )
    for side in report["sides"]:
        print(f"\n## code: {side['side']}")
        print(
            f"acctax materialize: {side['materialize_seconds']:.0f} s wall, exit {side['materialize_exit']} "
            f"(log {side['materialize_log']})"
        )
        print(
            f"held-out rows: {side['proposed_rows']:,} proposed + {side['rejected_rows']:,} rejected by cleaning "
            f"(not proposed; {side['rejected_by_reason'] or 'none'}) = {side['proposed_rows'] + side['rejected_rows']:,}"
            f" of {setup['held_out_rows']:,}; unaccounted {side['unaccounted_rows']}, "
            f"both {side['proposed_and_rejected_rows']}; served accuracy on the proposed rows "
            f"{side['served_accuracy_on_proposed']:.3f}"
        )
        print(f"served decision: {side['decision']['reason']}")
        if side["candidates_note"]:
            print(f"note: {side['candidates_note']}")
        print()
        print(model_table([*side["models"], *report["references"]]))
        if side["decision"]["comparison"]:
            print(f"\nserved_classifier comparison (valid/test splits of the run):\n{side['decision']['comparison']}")
    if len(report["sides"]) == 2:
        print(f"\n## {report['sides'][0]['side']} vs {report['sides'][1]['side']}\n")
        print(side_by_side(*report["sides"]))


def setup_figures(name: str, landed: Landed) -> dict:
    train_codes = set(landed.train[LABEL_COLUMN])
    held_codes = landed.truth[LABEL_COLUMN]
    unseen = ~held_codes.isin(train_codes)
    return {
        "ledger": name,
        "train_months": [m[:7] for m in landed.train_months],
        "held_out_months": [m[:7] for m in landed.held_out_months],
        "other_months": [m[:7] for m in landed.other_months],
        "train_rows": len(landed.train),
        "held_out_rows": len(landed.truth),
        "unscored_rows": landed.unscored_rows,
        "train_codes": len(train_codes),
        "held_out_codes": int(held_codes.nunique()),
        "unseen_codes": int(held_codes[unseen].nunique()),
        "unseen_rows": int(unseen.sum()),
    }


@contextmanager
def benchmark_root(args: argparse.Namespace) -> Iterator[Path]:
    """--home (never deleted), or a fresh temporary folder removed afterwards unless --keep."""
    if args.home is not None:
        if args.home.exists() and any(args.home.iterdir()):
            raise SystemExit(f"--home {args.home} is not empty: the benchmark needs a fresh one")
        args.home.mkdir(parents=True, exist_ok=True)
        yield args.home.resolve()
        return
    root = Path(tempfile.mkdtemp(prefix="real_ledger_"))
    try:
        yield root
    finally:
        if args.keep:
            print(f"\nkept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ledger_dir", nargs="?", type=Path, help="monthly ledger files, or a folder with months/")
    parser.add_argument("--demo", action="store_true", help="generate the bundled demo instead of LEDGER_DIR")
    parser.add_argument("--demo-months", type=int, default=12, help="demo: labelled months from 2024-01 (12)")
    parser.add_argument("--demo-rows", type=int, default=2000, help="demo: rows per month (2000)")
    parser.add_argument(
        "--holdout", type=int, help=f"last labelled months held out ({DEFAULT_HOLDOUT}; demo {DEMO_HOLDOUT})"
    )
    parser.add_argument("--home", type=Path, help="benchmark folder (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--against", metavar="REV", help="also run git revision REV's code, side by side")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--score-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--score-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--score-months", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.score_home is None and args.demo == (args.ledger_dir is not None):
        parser.error("give LEDGER_DIR or --demo")
    return args, extra


def main(argv: Sequence[str] | None = None, acctax_module: str = ACCTAX_MODULE) -> dict:
    """Run the benchmark and print its tables; returns the figures. `acctax_module` is the module run as
    `python -m … materialize` (a test passes one that trains with a tiny budget)."""
    args, extra = parse_args(argv)
    if args.score_home is not None:
        score_candidates(args.score_home, args.score_months, args.score_out)
        return {}
    with benchmark_root(args) as root, ExitStack() as stack:
        source = demo_ledger(root / "ledger", args.demo_months, args.demo_rows) if args.demo else args.ledger_dir
        source = ledger_folder(source.resolve())
        holdout = args.holdout or (DEMO_HOLDOUT if args.demo else DEFAULT_HOLDOUT)
        column_map = load_column_map()
        landed = land(read_months(source, column_map), holdout, source, root / "landing", column_map.chart)
        truth = landed.truth[LABEL_COLUMN]
        references = [
            {"model": "reference: lookup (company, counterparty) with backoff", "key": "lookup"},
            {"model": "reference: TF-IDF char_wb (2,4) + LinearSVC(C=0.5)", "key": "tfidf"},
        ]
        references[0].update(score(truth, lookup_reference(landed.train, landed.truth)))
        references[1].update(score(truth, tfidf_reference(landed.train, landed.truth)))
        trees = [(args.against, stack.enter_context(checkout(args.against)))] if args.against else []
        trees.append((tree_name(REPO), REPO))
        sides = []
        for name, tree in trees:
            home = AcctaxHome(root / ("home-" + re.sub(r"[^\w.-]", "_", name)))
            shutil.copytree(root / "landing", home.landing)
            sides.append(score_side(name, tree, home, landed, extra, acctax_module))
        report = {
            "setup": setup_figures("demo" if args.demo else str(args.ledger_dir), landed),
            "sides": sides,
            "references": references,
        }
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
