"""Vocabulary extension: frequent words of the train texts become single tokens of the base tokenizer.

An English WordPiece vocabulary (all-MiniLM-L6-v2) splits every Hangul syllable into 2-3 jamo pieces, so a
ledger row costs ~90-100 tokens and no piece means anything. Adding the train split's frequent vendor, company,
memo and item words (and amounts like `+2.3e5`, codes like `credit_card`) as whole tokens, and each field's
`| key:` marker as one token, cuts the row to a quarter of that (CPU minutes scale with tokens) and gives the
model one trainable embedding per word. The trainer initialises each new embedding as the mean of the base
pieces of its word (`subtoken_ids`) and trains only those rows with the adapter.

Pure functions: no Dagster, no torch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizers import AddedToken
from transformers import PreTrainedTokenizerBase

from acctax_assets.ml.data.serialization import SEPARATOR

# Runs of letters/digits/underscore, joined by inner `.+-` (an amount `+2.3e5` is one word): `credit_card`,
# `SK에너지`, `한결정밀`, `2호점`; other punctuation and spaces separate.
WORD = re.compile(r"[+\-]?\w+(?:[.+\-]\w+)*")


@dataclass(frozen=True)
class VocabularyReport:
    """What was added and how much it saved."""

    added: tuple[str, ...]
    candidates: int
    already_single_token: int
    markers: tuple[str, ...] = ()


def field_values(text: str) -> list[str]:
    """The values of a serialized `key:value | key:value` row (keys are fixed and chosen to be cheap tokens)."""
    return [segment.split(":", 1)[1] for segment in text.split(SEPARATOR) if ":" in segment]


def field_markers(text: str) -> list[str]:
    """The key markers of a serialized row as they appear in it: `co:` first, then `| co_type:`, `| party:`..."""
    segments = [segment.split(":", 1)[0] for segment in text.split(SEPARATOR) if ":" in segment]
    return [f"{SEPARATOR.lstrip() if position else ''}{key}:" for position, key in enumerate(segments)]


def count_words(texts: Iterable[str]) -> Counter[str]:
    """Word frequencies over the field values of `texts` (train split only: valid/test must not shape the input)."""
    counts: Counter[str] = Counter()
    for text in texts:
        for value in field_values(text):
            counts.update(WORD.findall(value))
    return counts


def is_single_token(word: str, tokenizer: PreTrainedTokenizerBase) -> bool:
    """One known token already; `[UNK]` does not count (MiniLM lacks some jamo: `및` is unknown, not one token)."""
    pieces = tokenizer.tokenize(word)
    return len(pieces) == 1 and pieces[0] != tokenizer.unk_token


def mine_words(
    counts: Counter[str], tokenizer: PreTrainedTokenizerBase, min_count: int, max_words: int
) -> tuple[list[str], int]:
    """The up to `max_words` most frequent words seen at least `min_count` times that `tokenizer` does not know
    as one token (ties broken alphabetically, so the result is deterministic); also how many frequent words
    were already one token."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    if max_words < 0:
        raise ValueError(f"max_words must be >= 0, got {max_words}")
    frequent = sorted(
        (word for word, count in counts.items() if count >= min_count), key=lambda word: (-counts[word], word)
    )
    chosen: list[str] = []
    single = 0
    for word in frequent:
        if len(chosen) >= max_words:
            break
        if is_single_token(word, tokenizer):
            single += 1
            continue
        chosen.append(word)
    return chosen, single


def extend_tokenizer(
    tokenizer: PreTrainedTokenizerBase, train_texts: Iterable[str], min_count: int, max_words: int
) -> VocabularyReport:
    """Adds the mined words to `tokenizer` in place as whole-word tokens.

    `single_word=True`: a token only matches a whole word, as it was counted, never the middle of an unseen
    longer word. `normalized=True`: it is matched after the tokenizer's own normalization (lower-casing), like
    the text it stands for.
    """
    texts = list(train_texts)
    if max_words == 0:
        return VocabularyReport(added=(), candidates=0, already_single_token=0)
    counts = count_words(texts)
    words, single = mine_words(counts, tokenizer, min_count, max_words)
    marker_counts: Counter[str] = Counter(marker for text in texts for marker in field_markers(text))
    markers, _ = mine_words(marker_counts, tokenizer, min_count, len(marker_counts))
    # Markers are followed directly by their value, so they cannot require a word boundary on both sides.
    tokenizer.add_tokens([AddedToken(marker, single_word=False, normalized=True) for marker in markers])
    tokenizer.add_tokens([AddedToken(word, single_word=True, normalized=True) for word in words])
    return VocabularyReport(
        added=tuple(markers) + tuple(words),
        candidates=sum(1 for count in counts.values() if count >= min_count),
        already_single_token=single,
        markers=tuple(markers),
    )


def added_token_ids(extended: PreTrainedTokenizerBase, base: PreTrainedTokenizerBase) -> dict[str, int]:
    """{word: id} of the tokens `extended` has beyond `base` (special tokens both share are not new)."""
    known = base.get_vocab()
    return {token: index for token, index in extended.get_added_vocab().items() if token not in known}


def subtoken_ids(word: str, base: PreTrainedTokenizerBase) -> list[int]:
    """The base tokenizer's pieces of `word`: their mean embedding is the new token's starting point."""
    return list(base(word, add_special_tokens=False)["input_ids"])
