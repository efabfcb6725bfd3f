"""The error the trainer's own checks raise; a module of its own so the adapter writer can raise it too without
importing the trainer."""

from __future__ import annotations

from acctax_assets.errors import AcctaxError


class TrainingError(AcctaxError):
    """The inputs of a training run are unusable (dataset, labels, base model architecture)."""
