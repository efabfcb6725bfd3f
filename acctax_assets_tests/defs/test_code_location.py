"""The code location stays light: the code server, every `dagster` CLI call, every sensor evaluation and every step
process imports `acctax_assets.definitions`, so torch-sized libraries load only inside the asset bodies and the
trainer, never at import time."""

import json
import subprocess
import sys

# Each costs from ~0.7 s (MLflow) to several seconds (torch + transformers) on a 2-core machine.
HEAVY = ("torch", "transformers", "peft", "deepspeed", "accelerate", "datasets", "sklearn", "tokenizers", "mlflow")


def test_loading_the_definitions_imports_no_ml_framework() -> None:
    probe = (
        "import json, sys\n"
        "import acctax_assets.definitions as location\n"
        "location.defs.get_repository_def()\n"
        f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# The asset graph as users see it in the UI: a change to it must show up as a diff of these tables.
ASSETS = {
    "raw_ledger": ("ledger", True, set()),
    "cleaned_ledger": ("ledger", True, {"raw_ledger"}),
    "rejected_ledger_rows": ("ledger", True, {"raw_ledger"}),
    "ledger_features": ("ledger", True, {"cleaned_ledger"}),
    "model_text": ("ledger", True, {"ledger_features"}),
    "ledger_dataset": ("ml", False, {"model_text"}),
    "tokenized_dataset": ("ml", False, {"ledger_dataset"}),
    "account_classifier": ("ml", False, {"tokenized_dataset"}),
    "baseline_classifier": ("ml", False, {"ledger_dataset"}),
    "precedent_classifier": ("ml", False, {"ledger_dataset"}),
    "ensemble_classifier": ("ml", False, {"account_classifier", "baseline_classifier", "precedent_classifier"}),
    "served_classifier": (
        "ml",
        False,
        {"account_classifier", "baseline_classifier", "precedent_classifier", "ensemble_classifier", "ledger_dataset"},
    ),
    "ledger_predictions": ("predictions", True, {"ledger_features", "served_classifier"}),
    "prediction_export": ("predictions", True, {"ledger_predictions", "raw_ledger", "rejected_ledger_rows"}),
    "proposal_feedback": ("feedback", True, {"cleaned_ledger"}),
}
JOBS = {
    "ledger_data_job": {"raw_ledger", "cleaned_ledger", "rejected_ledger_rows", "ledger_features", "model_text"},
    "training_job": {
        "ledger_dataset",
        "tokenized_dataset",
        "account_classifier",
        "baseline_classifier",
        "precedent_classifier",
        "ensemble_classifier",
        "served_classifier",
    },
    "prediction_job": {"ledger_predictions", "prediction_export"},
    "feedback_job": {"proposal_feedback"},
}
# Checks whose failure stops the month's chain (and leaves the month out of training).
BLOCKING_CHECKS = {
    ("raw_ledger", "raw_required_columns"),
    ("cleaned_ledger", "cleaned_schema"),
    ("cleaned_ledger", "dates_in_partition"),
    ("cleaned_ledger", "amount_consistency"),
    ("cleaned_ledger", "label_format"),
    ("cleaned_ledger", "rejected_share"),
    ("cleaned_ledger", "row_accounting"),
    ("ledger_features", "feature_columns"),
}
ADVISORY_CHECKS = {
    ("cleaned_ledger", "duplicate_rate"),
    ("ledger_features", "feature_null_rates"),
    ("account_classifier", "classifier_quality_gate"),
    ("account_classifier", "classifier_beats_baseline"),
}


def test_the_asset_graph_is_pinned() -> None:
    from acctax_assets.definitions import defs

    repository = defs.get_repository_def()
    graph = repository.asset_graph
    found = {
        key.to_user_string(): (
            graph.get(key).group_name,
            graph.get(key).partitions_def is not None,
            {p.to_user_string() for p in graph.get(key).parent_keys},
        )
        for key in graph.get_all_asset_keys()
    }
    assert found == ASSETS
    jobs = {
        name: {key.to_user_string() for key in repository.get_job(name).asset_layer.selected_asset_keys}
        for name in JOBS
    }
    assert jobs == JOBS
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking for key in graph.asset_check_keys
    }
    assert {check for check, blocking in checks.items() if blocking} == BLOCKING_CHECKS
    assert {check for check, blocking in checks.items() if not blocking} == ADVISORY_CHECKS
    assert {sensor.name for sensor in repository.sensor_defs} == {
        "ledger_file_sensor",
        "ledger_prediction_sensor",
        "proposal_feedback_sensor",
        "retraining_sensor",
    }
    assert {schedule.name for schedule in repository.schedule_defs} == {"monthly_retraining_schedule"}
