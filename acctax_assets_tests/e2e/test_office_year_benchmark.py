"""benchmarks/office_year.py on a tiny demo: three coded months train, the fourth lands uncoded, is proposed, the
simulated clerk's answer comes back through landing, and the retraining schedule's rule retrains on it, leaving the
lines nobody reviewed out (`unreviewed_labels: drop`). No figure is
judged (the benchmark measures); what is checked is that the loop closed: the platform's own feedback counts exactly
the changes the clerk made, the answered month is labelled with the clerk's codes, and training ran on it."""

import json
from pathlib import Path

import pandas as pd
import pytest

from acctax_assets.ledger.parsing import read_parquet_frame
from acctax_assets_tests.support.benchmark_scripts import load_benchmark


@pytest.mark.slow
def test_a_tiny_year_closes_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    office_year = load_benchmark(monkeypatch, "office_year")
    home = tmp_path / "bench"
    monkeypatch.setenv("ACCTAX_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    training_config = office_year.OfficeYear.training_config

    def open_gate(self: object) -> dict:
        """The tiny training's candidates are weak: the quality gate must not stop the year."""
        config = training_config(self)
        config["resources"] = {"model_settings": {"config": {"min_f1_macro": 0.0, "max_f1_drop": 1.0}}}
        return config

    monkeypatch.setattr(office_year.OfficeYear, "training_config", open_gate)
    figures_path = tmp_path / "figures.json"
    argv = ["--demo", "--months", "4", "--train-months", "3", "--rows-per-month", "250", "--adapter-steps", "8"]
    argv += ["--late-fix-share", "1.0", "--unreviewed", "drop", "--home", str(home), "--json", str(figures_path)]

    report = office_year.main(argv)

    (month,) = report["figures"]
    assert month["month"] == "2024-04" and month["rows"] > 0
    assert 0 < month["reviewed"] <= month["rows"]
    assert month["reviewed_wrong"] <= month["reviewed"]
    # Every wrong proposal the clerk fixed came back and was measured by proposal_feedback as what it was.
    assert month["feedback_changed_reviewed"] == month["reviewed_wrong"]
    assert month["feedback_slipped_found"] == month["late_fixed"] == month["slipped"]
    assert month["retrained"].startswith("yes") and "stays" not in month["retrained"]
    assert month["frozen_slipped"] >= 0 and month["precedent_slipped"] >= 0
    assert month["clerk_minutes"] == pytest.approx((month["reviewed"] + month["rejected"] + month["late_fixed"]) / 2)

    cleaned = read_parquet_frame(home / "storage" / "cleaned_ledger" / "2024-04-01.parquet")
    answered = cleaned[cleaned["proposed_code"].notna()]
    assert len(answered) == month["rows"]
    sources = answered["label_source"].value_counts().to_dict()
    assert sources.get("corrected", 0) == month["reviewed_wrong"] + month["late_fixed"]
    assert sources.get("confirmed", 0) == month["reviewed"] - month["reviewed_wrong"]
    assert "coded" not in sources
    # unreviewed_labels=drop: the month trains on the lines the clerk looked at (reviewed, or fixed later) only.
    training_rows = pd.read_parquet(home / "storage" / "model_text" / "2024-04-01.parquet")
    assert len(training_rows) == month["reviewed"] + month["late_fixed"] < month["rows"]
    assert json.loads(figures_path.read_text(encoding="utf-8"))["summary"]["months"] == 1
