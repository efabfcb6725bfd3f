"""`ensemble_classifier`: the candidates that passed their gate, mixed with weights chosen on valid."""

from dagster import AssetExecutionContext, Failure, Output, asset

from acctax_assets.defs.metadata_format import LEDGER_DATASET_VERSION, frame_table, listing, mapping_table, readable
from acctax_assets.defs.ml_resources import ModelSettings
from acctax_assets.errors import AcctaxError
from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.candidates.baseline import BaselineRef
from acctax_assets.ml.candidates.ensemble import (
    MEMBER_COST,
    EnsembleModel,
    EnsembleSpec,
    Member,
    best_weights,
    ensemble_outputs,
    gated_members,
    weight_search,
)
from acctax_assets.ml.candidates.precedent import PrecedentRef
from acctax_assets.ml.candidates.selection import QualityGate
from acctax_assets.ml.data.label_slots import LabelSlots
from acctax_assets.ml.evaluation.metrics import classification_report
from acctax_assets.ml.evaluation.outputs import CandidateFolder


@asset(group_name="ml", io_manager_key="ensemble_io_manager", kinds={"numpy"})
def ensemble_classifier(
    context: AssetExecutionContext,
    account_classifier: AdapterRef,
    baseline_classifier: BaselineRef,
    precedent_classifier: PrecedentRef,
    model_settings: ModelSettings,
) -> Output[EnsembleModel]:
    """Often better than any member, because they make different mistakes (subword context, character n-grams,
    the bookings of the same pair). A member that fails its quality gate is left out: a collapsed adapter must not
    drag the mix down. Only the valid split picks the weights; test is left for the comparison."""
    refs: dict[str, CandidateFolder] = {
        "adapter": account_classifier,
        "baseline": baseline_classifier,
        "precedent": precedent_classifier,
    }
    datasets = {kind: ref.ledger_dataset_version for kind, ref in refs.items()}
    if len(set(datasets.values())) > 1:
        raise Failure(
            description=(
                f"ensemble_classifier: the candidates were trained on different ledger_dataset versions {datasets}; they "
                "cannot be mixed. Fix: materialize the whole training_job so every candidate trains on the same version"
            )
        )
    label_slots: LabelSlots = baseline_classifier.label_slots()
    gate = QualityGate(model_settings.min_f1_macro, model_settings.max_f1_drop)
    try:
        outputs, left_out = gated_members({kind: ref.eval_outputs() for kind, ref in refs.items()}, label_slots, gate)
        for kind, reason in left_out.items():
            context.log.warning(f"ensemble_classifier: {kind} {refs[kind].version} is not a member: {reason}")
        if not outputs:
            # Mixed all the same, so that served_classifier judges and reports every candidate's failed gate.
            context.log.warning("ensemble_classifier: no candidate passed its quality gate; mixing all of them")
            outputs = {kind: ref.eval_outputs() for kind, ref in refs.items()}
        search = weight_search(outputs, model_settings.selection_metric)
        weights = best_weights(search, {kind: MEMBER_COST[kind] for kind in outputs})
        mixed = ensemble_outputs(outputs, weights)
    except AcctaxError as exc:
        raise Failure(description=f"ensemble_classifier: {exc}") from exc
    spec = EnsembleSpec(
        members=tuple(
            Member(kind, refs[kind].version, str(refs[kind].path), weights[kind])
            for kind in outputs
            if weights[kind] > 0
        ),
        dataset_version=datasets["baseline"],
    )
    reports = {
        split: classification_report(mixed.labels[split], mixed.predicted(split), label_slots)
        for split in ("valid", "test")
    }
    context.log.info(
        f"ensemble weights {weights} (valid {model_settings.selection_metric} "
        f"{reports['valid'][model_settings.selection_metric]:.4f})"
    )
    ranked = search.sort_values(["score", "valid_log_loss"], ascending=[False, True]).drop(columns="score")
    return Output(
        EnsembleModel(
            spec=spec, eval_outputs=mixed, label_slots=label_slots, text_spec=baseline_classifier.text_spec()
        ),
        metadata=readable(
            {
                "weights": mapping_table(weights, "member", "weight"),
                "members": listing(f"{m.kind} {m.version}" for m in spec.members),
                "left_out": mapping_table(left_out, "candidate", "reason"),
                LEDGER_DATASET_VERSION: spec.dataset_version,
                "valid_accuracy": reports["valid"]["accuracy"],
                "valid_f1_macro": reports["valid"]["f1_macro"],
                "test_f1_macro": reports["test"]["f1_macro"],
                "test_accuracy": reports["test"]["accuracy"],
                "weight_search_valid": frame_table(ranked.head(10)),
            }
        ),
    )
