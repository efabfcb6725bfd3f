"""Untrained class slots pinned low: spare slots and codes absent from the training split can never be proposed.

Shared by the trainer (loss and periodic scores) and inference, so both mask the same way; torch is imported here,
so the Dagster process never imports this module.
"""

from __future__ import annotations

import torch

# Logit given to classes the model cannot learn (absent from train, spare slots). Finite so that 0-weighted rows
# of such classes give 0 loss rather than NaN in training, and representable in bf16.
MASKED_LOGIT = -1.0e4


def mask_untrained(logits: torch.Tensor, untrained: torch.Tensor) -> torch.Tensor:
    """Logits with untrained class slots pinned low, so a spare slot can never be the argmax."""
    return logits.masked_fill(untrained.to(logits.device), MASKED_LOGIT)
