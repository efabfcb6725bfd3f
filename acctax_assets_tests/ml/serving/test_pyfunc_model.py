"""Registry versions as MLflow pyfunc models: logged at registration, loaded by `models:/…@champion`, proposing the
same table as `ledger_predictions` for the rows of a landing file; bad rows refused with the column named; a
version whose files were deleted refused with ledger_predictions' error; the same over HTTP through
`mlflow models serve` on a loopback port."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from dagster import Failure, build_asset_context, instance_for_test

import acctax_assets
from acctax_assets.defs.ledger_predictions import PredictionConfig, ledger_predictions
from acctax_assets.defs.ml_resources import (
    EXPERIMENT,
    ModelRegistryResource,
    ModelSettings,
    ensure_experiment,
    tracking_uri,
)
from acctax_assets.defs.resources import LedgerSettings
from acctax_assets.ledger.cleaning import CleaningRules, clean_ledger
from acctax_assets.ledger.column_map import load_column_map
from acctax_assets.ledger.features import build_features
from acctax_assets.ledger.ingestion import combine, read_ledger_file
from acctax_assets.ml.serving.model_registry import (
    CHAMPION,
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    REGISTERED_MODEL,
    ModelRegistry,
    ServedFilesMissingError,
)
from acctax_assets.ml.serving.pyfunc_model import OUTPUT_COLUMNS, LedgerRowsError, proposals
from acctax_assets.paths import AcctaxHome
from acctax_assets_tests.support.ledger_files import ledger_rows, write_ledger
from acctax_assets_tests.support.stored_candidates import stored_baseline, stored_history

CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION}"
# (counterparty, item) of the month's lines: the baseline knows the items, the precedent knows SK에너지's 주유.
LINES = [
    ("스타벅스 강남점", "커피"),
    ("SK에너지", "주유"),
    ("오피스디포", "복사지"),
    ("꽃집", "화환"),
    ("문구점", "볼펜"),
]


@dataclass(frozen=True)
class Office:
    home: AcctaxHome
    registry: ModelRegistry
    month_file: Path
    baseline: Path


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Office]:
    """A baseline champion and the precedent of its dataset version, registered as MLflow models, and a January
    landing file of 40 lines; MLflow's tracking URI points at the office's store."""
    home = AcctaxHome(tmp_path / "acctax").ensure()
    monkeypatch.setenv("ACCTAX_HOME", str(home.root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri(home))
    # A URI set by an earlier test in this process (mlflow.set_tracking_uri) outranks the environment variable.
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri(home))
    registry = ModelRegistry(tracking_uri(home))
    baseline = stored_baseline(home.storage / "baseline_classifier" / "v1")
    precedent = stored_history(
        home.storage / "precedent_classifier" / "v1", [("party:SK에너지 | item:주유", 1, "2023-12")] * 5
    )
    registry.register("precedent", "v1", precedent, "d1", {}, None)
    registry.set_alias(CHAMPION, registry.register("baseline", "v1", baseline.path, "d1", {}, None))
    rows = [
        {
            **row,
            "party_name": LINES[i % len(LINES)][0],
            "item": LINES[i % len(LINES)][1],
            "date": f"202401{i % 28 + 1:02d}",
        }
        for i, row in enumerate(ledger_rows(40))
    ]
    yield Office(home, registry, write_ledger(home.landing / "ledger_2024-01.csv", rows), baseline.path)
    mlflow.set_tracking_uri(previous)


def landing_rows(path: Path) -> pd.DataFrame:
    """The file's rows as another program would send them: its headers, its cells as text, plus a column of its own."""
    return pd.read_csv(path, dtype=str, keep_default_na=False).assign(비고="memo the model never reads")


def expected(office: Office) -> pd.DataFrame:
    """ledger_predictions' table for the month file, as the pyfunc's columns."""
    raw = combine([read_ledger_file(office.month_file, load_column_map(), office.home.landing)])
    features = build_features(clean_ledger(raw, "2024-01-01", CleaningRules()).cleaned)
    with instance_for_test() as instance:
        output = ledger_predictions(
            build_asset_context(partition_key="2024-01-01", instance=instance),
            PredictionConfig(),
            features,
            LedgerSettings(home=str(office.home.root)),
            ModelSettings(),
            ModelRegistryResource(tracking_uri=office.registry.tracking_uri),
        )
    return proposals(output.value, features)


def test_the_champion_is_an_mlflow_model_proposing_what_ledger_predictions_proposes(office: Office) -> None:
    version = mlflow.MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    assert (
        Path(mlflow.artifacts.download_artifacts(version.source, dst_path=str(office.home.root / "dl")))
        .joinpath("MLmodel")
        .is_file()
    ), "the version is an MLflow model"
    assert office.registry.resolve().path == office.baseline.resolve(), "the stored folder stays what serves"
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    signature = model.metadata.signature
    assert {"전표일자", "거래처명", "매입.공급가액", "party_name"} <= set(signature.inputs.input_names())
    assert signature.outputs.input_names() == list(OUTPUT_COLUMNS)

    proposed = model.predict(landing_rows(office.month_file))
    pd.testing.assert_frame_equal(proposed, expected(office))
    assert proposed["input_row"].tolist() == list(range(40))
    assert proposed["needs_review"].any(), "the precedent's review rule applies as in ledger_predictions"


def test_bad_rows_are_refused_naming_the_column(office: Office) -> None:
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    rows = landing_rows(office.month_file)
    with pytest.raises(LedgerRowsError, match="'date' \\(usual header '전표일자'\\)"):
        model.predict(rows.drop(columns=["전표일자"]))
    malformed = rows.copy()
    malformed.loc[3, "매입.공급가액"] = "10,00x"
    with pytest.raises(
        LedgerRowsError, match="input row 3: invalid_amount: supply_amount=10,00x \\[column '매입.공급가액'"
    ):
        model.predict(malformed)


def test_a_champion_whose_files_were_deleted_fails_to_load_as_ledger_predictions_fails(office: Office) -> None:
    shutil.rmtree(office.baseline)
    with pytest.raises(ServedFilesMissingError) as loading:
        mlflow.pyfunc.load_model(CHAMPION_URI)
    with pytest.raises(Failure) as predicting:
        expected(office)
    assert str(loading.value) in predicting.value.description
    assert "no longer exist" in str(loading.value) and "acctax champion --set N" in str(loading.value)


def test_the_experiments_open_on_their_runs_not_the_genai_view(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    existing = client.create_experiment("made before the tag", artifact_location=(tmp_path / "a").as_uri())
    for name in ("made before the tag", EXPERIMENT):
        experiment_id = ensure_experiment(uri, name, tmp_path / "artifacts")
        assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    assert ensure_experiment(uri, "made before the tag", tmp_path / "artifacts") == existing
    registry = ModelRegistry(uri)
    registry.register("baseline", "v1", stored_baseline(tmp_path / "baseline").path, "d1", {}, None)
    models = client.get_experiment_by_name(REGISTERED_MODEL)
    assert models.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING, "models logged without a run go to a runs view too"
    assert models.artifact_location == (tmp_path / "artifacts").as_uri(), "artifacts beside the store, not in cwd"


def free_loopback_port() -> int:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    except OSError as exc:
        pytest.skip(f"no loopback port can be bound here ({exc}): the REST round trip needs one")


def post(port: int, rows: pd.DataFrame) -> tuple[int, dict]:
    body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}, ensure_ascii=False)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", body.encode("utf-8"), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_the_same_proposals_over_http(office: Office) -> None:
    port = free_loopback_port()
    # The server runs uvicorn from the interpreter's own bin folder, and this checkout's package.
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(Path(acctax_assets.__file__).parents[1]),
    }
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION_URI, "--env-manager", "local"]
    server = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow models serve did not start: {server.stdout.read().decode()[-3000:]}")
                time.sleep(0.5)
        rows = landing_rows(office.month_file)
        status, answer = post(port, rows)
        assert status == 200, answer
        served = pd.DataFrame(answer["predictions"])
        pd.testing.assert_frame_equal(served, expected(office).astype(served.dtypes.to_dict()), check_dtype=False)

        status, answer = post(port, rows.drop(columns=["매입.공급가액", "매입.합계금액"]))
        assert status == 400 and "'supply_amount' (usual header '매입.공급가액')" in answer["message"], answer
        malformed = rows.copy()
        malformed.loc[0, "매입.공급가액"] = "abc"
        status, answer = post(port, malformed)
        assert status == 400 and "'매입.공급가액' (supply_amount)" in answer["message"], answer
        assert post(port, rows)[0] == 200, "a refused request leaves the server serving"
    finally:
        server.terminate()
        server.wait(timeout=30)
