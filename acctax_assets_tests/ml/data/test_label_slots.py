"""The label registry: ids stay stable when a month adds codes, overflow and unknown codes are errors, the head
size is fixed."""

from pathlib import Path

import pytest

from acctax_assets.errors import AcctaxError
from acctax_assets.ml.data.label_slots import LabelOverflowError, LabelSlots, UnknownLabelError


def test_registry_ids_are_stable_when_a_new_month_adds_codes(tmp_path: Path) -> None:
    path = tmp_path / "label_registry.json"
    first = LabelSlots(max_classes=10).with_codes(["81200", "81100", "83000"], {"81100": "복리후생비"})
    first.save(path)
    before = {code: first.id_of(code) for code in first.codes}
    second = LabelSlots.load(path, max_classes=10).with_codes(["14600", "81100", "00100"])
    assert {code: second.id_of(code) for code in first.codes} == before
    assert second.codes[3:] == ("00100", "14600")
    assert second.names["81100"] == "복리후생비"
    assert second.id2label[9] == "__spare_9" and len(second.id2label) == 10


def test_registry_overflow_and_unknown_codes_are_errors() -> None:
    label_slots = LabelSlots(max_classes=3).with_codes(["1", "2"])
    with pytest.raises(LabelOverflowError, match="max_classes=3"):
        label_slots.with_codes(["3", "4"])
    with pytest.raises(UnknownLabelError, match="99999"):
        label_slots.ids(["1", "99999"])
    with pytest.raises(UnknownLabelError, match="spare"):
        label_slots.code_of(2)


def test_registry_refuses_a_changed_head_size(tmp_path: Path) -> None:
    path = tmp_path / "label_registry.json"
    LabelSlots(max_classes=10).with_codes(["1"]).save(path)
    with pytest.raises(AcctaxError, match="max_classes=10"):
        LabelSlots.load(path, max_classes=20)
