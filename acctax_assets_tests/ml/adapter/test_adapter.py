"""An adapter checked against the current label registry and compared with the baseline, without a model."""

from pathlib import Path

import pytest

from acctax_assets.ml.adapter import AdapterRef, compare_with_baseline
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots, LabelSlotsMismatchError
from acctax_assets_tests.support.ml_frames import LABEL_SLOTS


def test_adapter_registry_must_match_the_current_one(tmp_path: Path) -> None:
    LABEL_SLOTS.save(tmp_path / LABEL_SLOTS_FILE)
    adapter = AdapterRef(tmp_path)
    adapter.check_label_slots(LABEL_SLOTS.with_codes(["84800"]))
    swapped = LabelSlots(max_classes=8, codes=("82200", "81100", "83000"))
    with pytest.raises(LabelSlotsMismatchError, match="slot 0 is '81100' in the model but '82200' now"):
        adapter.check_label_slots(swapped)
    with pytest.raises(LabelSlotsMismatchError, match="model has 8 slots, the registry 9"):
        adapter.check_label_slots(LabelSlots(max_classes=9, codes=LABEL_SLOTS.codes))


@pytest.mark.parametrize(
    "adapter_f1, baseline_f1, baseline_dataset, passed, phrase",
    [
        (0.8, 0.7, "v1", True, "beats"),
        (0.6, 0.7, "v1", False, "does not beat"),
        (0.7, 0.7, "v1", False, "does not beat"),
        (0.9, 0.7, "v0", False, "not comparable"),
    ],
)
def test_adapter_vs_baseline(
    adapter_f1: float, baseline_f1: float, baseline_dataset: str, passed: bool, phrase: str
) -> None:
    verdict = compare_with_baseline(
        {"f1_macro": adapter_f1}, {"test": {"f1_macro": baseline_f1}, "dataset_version": baseline_dataset}, "v1"
    )
    assert verdict.passed is passed and phrase in verdict.reason
