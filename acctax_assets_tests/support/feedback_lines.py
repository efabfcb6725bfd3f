"""Cleaned lines with proposals and what the clerk did with them, as cleaned_ledger carries them."""

import pandas as pd

NA = pd.NA


def cleaned(rows: list[tuple[object, object, object, object]]) -> pd.DataFrame:
    """Lines as cleaned_ledger carries them: (proposed_code, needs_review, acct_code, label_source)."""
    proposed, queued, final, source = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "proposed_code": pd.array(proposed, dtype="string"),
            "needs_review": pd.array(queued, dtype="boolean"),
            "acct_code": pd.array(final, dtype="string"),
            "label_source": pd.array(source, dtype="string"),
        }
    )


# 4 reviewed lines (2 kept, 1 changed to a known code, 1 to a code new to the model), 5 auto-accepted lines (4 never
# seen by the clerk, 1 corrected by the month's final export), a line coded before any proposal (left out although
# its code differs) and a line without proposal.
KNOWN_CORRECTIONS = [
    ("81100", True, "81100", "confirmed"),
    ("81300", True, "81300", "confirmed"),
    ("81100", True, "81300", "corrected"),
    ("82600", True, "99999", "corrected"),
    ("81100", False, "81100", "unreviewed"),
    ("81100", False, "81100", "unreviewed"),
    ("81300", False, "81300", "unreviewed"),
    ("82600", False, "82600", "unreviewed"),
    ("81100", False, "82600", "corrected"),
    ("81100", False, "83000", "coded"),
    (NA, NA, NA, NA),
]
