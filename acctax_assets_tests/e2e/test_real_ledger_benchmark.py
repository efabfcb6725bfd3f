"""benchmarks/real_ledger.py on a tiny demo ledger with a tiny training budget: the real `acctax materialize` in a
subprocess, then the served proposals, every candidate and both references scored on the held-out rows. No figure
is judged (the benchmark measures); what is checked is that every model is scored, every held-out row is accounted
for, and the served row agrees with the same candidate scored by the benchmark itself.

Run as a module, this file is `acctax` with the tests' tiny training_job config: the CLI has no training budget
option, so the benchmark's `acctax_module` hook points here."""

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from acctax_assets import cli
from acctax_assets_tests.support import training_runs
from acctax_assets_tests.support.benchmark_scripts import load_benchmark


def tiny_training_cli(argv: list[str]) -> int:
    """`acctax` whose training_job trains for a few steps with the quality gate open."""
    run_job = cli.run_job

    def tiny(
        instance: Any,
        job_name: str,
        label: str,
        partition_key: str | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> Any:
        if job_name == "training_job":
            run_config = training_runs.run_config()
        return run_job(instance, job_name, label, partition_key, run_config)

    cli.run_job = tiny
    return cli.main(argv)


@pytest.mark.slow
def test_tiny_demo_is_scored_for_every_model_and_every_held_out_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_ledger = load_benchmark(monkeypatch, "real_ledger")
    figures_path = tmp_path / "figures.json"
    argv = ["--demo", "--demo-months", "4", "--demo-rows", "300", "--holdout", "1"]
    argv += ["--home", str(tmp_path / "bench"), "--json", str(figures_path)]

    report = real_ledger.main(argv, acctax_module=__name__)

    (side,) = report["sides"]
    assert side["materialize_exit"] == 0, Path(side["materialize_log"]).read_text()[-3000:]
    setup = report["setup"]
    assert setup["held_out_months"] == ["2024-04"] and setup["train_months"] == ["2024-01", "2024-02", "2024-03"]
    assert setup["held_out_rows"] > 0 and setup["train_rows"] > 0
    assert side["proposed_rows"] + side["rejected_rows"] == setup["held_out_rows"]
    assert side["unaccounted_rows"] == side["proposed_and_rejected_rows"] == 0
    assert sum(side["rejected_by_reason"].values()) == side["rejected_rows"]

    models = {model["key"]: model for model in [*side["models"], *report["references"]]}
    assert {"served", "lookup", "tfidf"} <= set(models)
    candidates = [m for m in side["models"] if m["key"] != "served"]
    assert candidates, side["candidates_note"]
    for model in models.values():
        assert 0 <= model["accuracy"] <= 1 and 0 <= model["macro_f1"] <= 1, model
        for key, _ in real_ledger.FIGURES:
            assert model[key] is None or 0 <= model[key] <= 1, (model["model"], key)
    for key in ("top3", "review_at_target", "rest_accuracy_at_40"):
        assert models["served"][key] is not None, key
    assert models["lookup"]["top3"] is None and models["tfidf"]["top3"] is not None

    served_label = models["served"]["model"].removeprefix("served: ")
    (same,) = [m for m in candidates if m["model"] == f"candidate {served_label}"]
    assert same["accuracy"] == pytest.approx(models["served"]["accuracy"])
    assert same["review_at_target"] == pytest.approx(models["served"]["review_at_target"])

    assert side["decision"]["reason"] and side["decision"]["comparison"]
    assert json.loads(figures_path.read_text(encoding="utf-8")) == report
    printed = capsys.readouterr().out
    assert "| served: " in printed and "| reference: lookup" in printed and "| reference: TF-IDF" in printed


if __name__ == "__main__":
    raise SystemExit(tiny_training_cli(sys.argv[1:]))
