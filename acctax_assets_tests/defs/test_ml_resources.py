"""Resources of the ML layer: credentials never reach metadata or the stored run config."""

import json

import pytest
from dagster import DagsterInstance, OpExecutionContext, job, op
from dagster_mlflow import end_mlflow_on_run_finished

from acctax_assets.defs.ml_resources import mlflow_tracking
from acctax_assets.ml.serving.model_registry import mlflow_ui_url, redact_uri
from acctax_assets.paths import AcctaxHome


@pytest.mark.parametrize(
    "uri, shown",
    [
        ("postgresql://mlflow:s3cret@db.internal:5432/mlflow", "postgresql://mlflow:***@db.internal:5432/mlflow"),
        ("https://user:tok%40en@mlflow.example/api", "https://user:***@mlflow.example/api"),
        ("sqlite:////home/me/.acctax/mlflow/mlflow.db", "sqlite:////home/me/.acctax/mlflow/mlflow.db"),
        ("http://mlflow:5000", "http://mlflow:5000"),
    ],
)
def test_redact_uri_hides_passwords_only(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    assert "s3cret" not in redact_uri(uri) and "tok" not in redact_uri(uri)


@pytest.mark.parametrize(
    "uri, configured, ui",
    [
        ("sqlite:////home/me/.acctax/mlflow/mlflow.db", None, "http://127.0.0.1:5000"),
        ("https://user:token@mlflow.example/", None, "https://mlflow.example"),
        ("http://mlflow.internal:5000", None, "http://mlflow.internal:5000"),
        ("sqlite:////srv/mlflow.db", "https://mlflow.office.example/", "https://mlflow.office.example"),
    ],
)
def test_run_links_point_at_the_ui_of_the_tracking_store(uri: str, configured: str | None, ui: str) -> None:
    assert mlflow_ui_url(uri, configured) == ui


def test_tracking_uri_from_environment_is_not_stored_in_the_run(
    home: AcctaxHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracking URI given as {env: VAR} reaches MLflow, while the run config Dagster stores names only the variable."""
    private = home.root / "private-tracking" / "mlflow.db"
    private.parent.mkdir()
    monkeypatch.setenv("ACCTAX_TEST_TRACKING_URI", f"sqlite:///{private}")

    @op(required_resource_keys={"mlflow"})
    def tracked(context: OpExecutionContext) -> str:
        return context.resources.mlflow.get_tracking_uri()

    @job(resource_defs={"mlflow": mlflow_tracking}, hooks={end_mlflow_on_run_finished})
    def tracking_job() -> None:
        tracked()

    config = {"resources": {"mlflow": {"config": {"mlflow_tracking_uri": {"env": "ACCTAX_TEST_TRACKING_URI"}}}}}
    with DagsterInstance.get() as instance:
        result = tracking_job.execute_in_process(run_config=config, instance=instance)
        stored = instance.get_run_by_id(result.run_id)
    assert result.output_for_node("tracked") == f"sqlite:///{private}"
    assert private.exists(), "MLflow wrote to the URI from the environment"
    assert stored.run_config["resources"]["mlflow"]["config"]["mlflow_tracking_uri"] == {
        "env": "ACCTAX_TEST_TRACKING_URI"
    }
    assert "private-tracking" not in json.dumps(stored.run_config)
