"""Resources of the ML layer: credentials never reach metadata."""

import pytest

from acctax_assets.defs.ml_resources import redact_uri


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
