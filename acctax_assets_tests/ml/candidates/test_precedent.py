"""The precedent lookup: the pair's past bookings first, backing off to the counterparty, the memo/item words, the
client and every booking; ties broken by the level below; levels a ledger lacks are skipped and reported."""

import numpy as np

from acctax_assets.ml.candidates.precedent import LEVELS, PrecedentLookup, evaluate_precedent, level_shares

SLOTS = 6


def text(client: str | None, party: str | None, memo: str | None = None) -> str:
    return f"co:{client or 'NULL'} | co_type:NULL | party:{party or 'NULL'} | amt:+1.0e4 | memo:{memo or 'NULL'}"


def fitted() -> PrecedentLookup:
    rows = [
        (text("A", "카페"), 0),
        (text("A", "카페"), 0),
        (text("B", "카페"), 1),
        (text("B", "카페"), 1),
        (text("B", "카페"), 1),
        (text("A", "주유소", "차량 주유"), 2),
        (text("B", "문구점", "복사지"), 3),
    ]
    return PrecedentLookup.fit([t for t, _ in rows], [label for _, label in rows], SLOTS)


def test_the_pair_decides_before_the_counterparty() -> None:
    probabilities, decided = fitted().score([text("A", "카페"), text("B", "카페")])
    assert probabilities.argmax(axis=1).tolist() == [0, 1], "how this client booked this counterparty"
    assert [LEVELS[level] for level in decided] == ["client+counterparty"] * 2
    assert np.allclose(probabilities.sum(axis=1), 1.0) and (probabilities[:, 4:] == 0).all()


def test_an_unseen_pair_backs_off_to_the_counterparty_then_words_then_client() -> None:
    probabilities, decided = fitted().score(
        [text("C", "카페"), text("C", "새가게", "주유 영수증"), text("B", "새가게"), text("C", None)]
    )
    assert probabilities.argmax(axis=1).tolist() == [1, 2, 1, 1]
    assert [LEVELS[level] for level in decided] == ["counterparty", "memo/item words", "client", "all bookings"]


def test_a_tie_at_one_level_is_broken_by_the_level_below() -> None:
    lookup = PrecedentLookup.fit(
        [text("A", "카페"), text("A", "카페"), text("B", "카페"), text("B", "카페"), text("B", "카페")],
        [0, 1, 1, 1, 1],
        SLOTS,
    )
    probabilities, _ = lookup.score([text("A", "카페")])
    assert probabilities[0, 1] > probabilities[0, 0], "1:1 for the pair; the counterparty booked 1 four times of five"
    even = PrecedentLookup.fit([text("A", "카페"), text("A", "카페")], [2, 1], SLOTS)
    assert even.score([text("A", "카페")])[0].argmax() == 1, "an exact tie everywhere: the lower slot id"


def test_a_ledger_without_counterparty_or_client_backs_off_and_says_so() -> None:
    texts = [text(None, None, "임대료 3월"), text(None, None, "커피 구입"), text(None, None, "임대료 4월")]
    lookup = PrecedentLookup.fit(texts, [4, 0, 4], SLOTS)
    assert [bool(table.index) for table in lookup.tables] == [False, False, True, False]
    outputs, levels = evaluate_precedent(lookup, {"valid": ([text(None, None, "임대료 5월")], [4]), "test": ([], [])})
    assert outputs.predicted("valid").tolist() == [4]
    assert levels["valid"]["memo/item words"] == 1.0 and level_shares(np.array([4, 4]))["all bookings"] == 1.0
