"""`ensemble_classifier`: the adapter's and the baseline's probabilities mixed with one weight chosen on valid."""

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.baseline import BaselineRef
from acctax_assets.ml.ensemble import EnsembleModel, EnsembleSpec, best_weight, ensemble_outputs, weight_search
from acctax_assets.ml.label_registry import LabelRegistry
from acctax_assets.ml.metrics import classification_report


@asset(group_name="ml", io_manager_key="ensemble_io_manager", kinds={"numpy"})
def ensemble_classifier(
    context: AssetExecutionContext, account_classifier: AdapterRef, baseline_classifier: BaselineRef
) -> Output[EnsembleModel]:
    """A third candidate: often better than either half, because the two make different mistakes (subword
    context vs character n-grams). Only the valid split picks the weight; test is left for the comparison."""
    adapter_dataset = account_classifier.text_spec().ledger_dataset_version
    baseline_dataset = baseline_classifier.metrics()["dataset_version"]
    if adapter_dataset != baseline_dataset:
        raise Failure(
            description=(
                f"ensemble_classifier: account_classifier {account_classifier.version} was trained on ledger_dataset {adapter_dataset}, "
                f"baseline_classifier {baseline_classifier.version} on {baseline_dataset}; they cannot be mixed. "
                "Fix: materialize the whole training_job so both train on the same dataset version"
            )
        )
    try:
        adapter, baseline = account_classifier.eval_outputs(), baseline_classifier.eval_outputs()
        search = weight_search(adapter, baseline)
        weight = best_weight(search)
        outputs = ensemble_outputs(adapter, baseline, weight)
    except AcctaxError as exc:
        raise Failure(description=f"ensemble_classifier: {exc}") from exc
    registry: LabelRegistry = account_classifier.registry()
    spec = EnsembleSpec(
        adapter_version=account_classifier.version,
        adapter_path=str(account_classifier.path),
        baseline_version=baseline_classifier.version,
        baseline_path=str(baseline_classifier.path),
        adapter_weight=weight,
        dataset_version=str(adapter_dataset),
    )
    reports = {
        split: classification_report(outputs.labels[split], outputs.predicted(split), registry)
        for split in ("valid", "test")
    }
    context.log.info(f"adapter weight {weight:.2f} (valid macro F1 {reports['valid']['f1_macro']:.4f})")
    return Output(
        EnsembleModel(spec=spec, eval_outputs=outputs, registry=registry, text_spec=account_classifier.text_spec()),
        metadata={
            "adapter_weight": weight,
            "adapter_version": account_classifier.version,
            "baseline_version": baseline_classifier.version,
            "dataset_version": str(adapter_dataset),
            "valid_f1_macro": reports["valid"]["f1_macro"],
            "test_f1_macro": reports["test"]["f1_macro"],
            "test_accuracy": reports["test"]["accuracy"],
            "weight_search_valid": MetadataValue.md(search.round(4).to_markdown(index=False)),
        },
    )
