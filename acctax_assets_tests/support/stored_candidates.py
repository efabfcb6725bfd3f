"""Stored candidates the ML tests share: a real TF-IDF baseline and a precedent's history, as the assets store them."""

from pathlib import Path

import joblib
import numpy as np

from acctax_assets.ml.candidates.baseline import (
    BaselineModel,
    BaselineRef,
    BaselineSettings,
    evaluate_baseline,
    train_baseline,
)
from acctax_assets.ml.candidates.evidence import NeighbourIndex
from acctax_assets.ml.candidates.precedent import MODEL_FILE, NEIGHBOURS_FILE, PrecedentLookup, booking_dates
from acctax_assets.ml.data.label_slots import LABEL_SLOTS_FILE, LabelSlots
from acctax_assets.ml.data.serialization import TextSpec

LABEL_SLOTS = LabelSlots(max_classes=6, codes=("81100", "82200", "83000", "84800"))

TEXTS = {
    0: ["커피", "간식", "식대"],
    1: ["주유", "세차", "주차"],
    2: ["복사지", "토너", "볼펜"],
    3: ["임대료", "관리비", "월세"],
}


def stored_baseline(folder: Path, dataset: str = "d1") -> BaselineRef:
    """A real TF-IDF baseline on separable texts, stored as baseline_classifier stores it."""
    rng = np.random.default_rng(0)
    labels = [i % 4 for i in range(160)]
    texts = [f"party:가게{rng.integers(40)} | item:{rng.choice(TEXTS[label])}" for label in labels]
    pipeline = train_baseline(texts[:120], labels[:120], BaselineSettings(max_iter=200))
    reports, outputs = evaluate_baseline(
        pipeline, {"valid": (texts[120:140], labels[120:140]), "test": (texts[140:], labels[140:])}, LABEL_SLOTS
    )
    folder.mkdir(parents=True)
    BaselineModel(
        pipeline,
        LABEL_SLOTS,
        {**reports, "dataset_version": dataset},
        outputs,
        TextSpec(("party_name", "item"), None, dataset),
        [],
    ).save(folder)
    return BaselineRef(folder)


CODES = LabelSlots(
    max_classes=6,
    codes=("81100", "82200", "83000", "82600"),
    names={"81100": "복리후생비", "82200": "차량유지비", "83000": "소모품비", "82600": "도서인쇄비"},
)


def text(client: str, party: str | None, memo: str | None = None, item: str | None = None) -> str:
    return f"co:{client} | party:{party or 'NULL'} | amt:+1.1e4 | memo:{memo or 'NULL'} | item:{item or 'NULL'}"


# (text, slot, month): client A booked 카페 as 81100 four times and once as 82600; B booked 카페 as 82200.
HISTORY: list[tuple[str, int, str]] = [
    (text("A", "카페", "직원 간식", "커피"), 0, "2024-01"),
    (text("A", "카페", "직원 간식", "커피"), 0, "2024-03"),
    (text("A", "카페", "회의", "커피"), 0, "2024-02"),
    (text("A", "카페", "회의", "커피"), 0, "2024-02"),
    (text("A", "카페", "잡지", "월간지"), 3, "2024-04"),
    (text("A", "주유소", "차량 주유"), 1, "2024-02"),
    (text("B", "카페", "손님 접대", "커피"), 1, "2024-05"),
    (text("B", "문구점", "복사지"), 2, "2024-01"),
]


def stored_history(folder: Path, rows: list[tuple[str, int, str]] = HISTORY, per_client: int = 1_000) -> Path:
    """A precedent candidate's folder as precedent_classifier stores it: lookup, similar-lines index, registry."""
    texts, slots, months = [t for t, _, _ in rows], [s for _, s, _ in rows], [m for _, _, m in rows]
    dates = booking_dates(texts, months)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(PrecedentLookup.fit(texts, slots, CODES.max_classes, dates=dates), folder / MODEL_FILE)
    joblib.dump(NeighbourIndex.fit(texts, slots, dates, per_client=per_client), folder / NEIGHBOURS_FILE)
    CODES.save(folder / LABEL_SLOTS_FILE)
    return folder
