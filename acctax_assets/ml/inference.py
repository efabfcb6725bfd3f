"""Batch prediction with a stored adapter (no Dagster): top-k codes and probabilities per text.

Untrained slots (spare slots, codes absent from the training split) are masked with the adapter's
trained_classes.json, so no head type (BERT with bias, Qwen `score` without) can ever propose them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.predictions import Predictions

# Logit given to classes the model cannot learn (absent from train, spare slots). Finite so that 0-weighted rows
# of such classes give 0 loss rather than NaN in training, and representable in bf16.
MASKED_LOGIT = -1.0e4

Device = Literal["auto", "cpu", "cuda"]


def mask_untrained(logits: torch.Tensor, untrained: torch.Tensor) -> torch.Tensor:
    """Logits with untrained class slots pinned low, so a spare slot can never be the argmax."""
    return logits.masked_fill(untrained.to(logits.device), MASKED_LOGIT)


def resolve_device(device: Device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA GPU. Fix: use device='auto' or 'cpu'")
    return torch.device(device)


class Predictor:
    """The adapter on its base model in eval mode, with the untrained-slot mask and the training truncation.

    On CPU the linear layers are quantized to int8 (torch dynamic quantization) unless `quantize=False`: the
    matmuls dominate a small encoder's or decoder's forward pass, and int8 weights roughly halve their time.
    """

    def __init__(
        self, adapter: AdapterRef, device: Device = "auto", batch_size: int = 64, quantize: bool = True
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = adapter.text_spec().max_length
        self.tokenizer = adapter.load_tokenizer()
        # Folding the LoRA deltas into the base weights removes the adapter's extra matmuls from every forward pass.
        model = adapter.load_model().merge_and_unload().to(self.device)
        self.quantized = quantize and self.device.type == "cpu"
        if self.quantized:
            from torch.ao.quantization import quantize_dynamic

            model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        registry = adapter.registry()
        self.trained_ids = np.asarray(adapter.trained_class_ids(), dtype=np.int64)
        untrained = torch.ones(registry.max_classes, dtype=torch.bool)
        untrained[self.trained_ids] = False
        self.untrained = untrained.to(self.device)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(rows x slots) probabilities in input order; rows are batched by length (less padding)."""
        order = np.argsort([len(text) for text in texts], kind="stable")
        probabilities = np.zeros((len(texts), self.untrained.numel()), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in rows], truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits.float()
            probabilities[rows] = torch.softmax(mask_untrained(logits, self.untrained), dim=-1).cpu().numpy()
        return probabilities

    def predict(self, texts: Sequence[str]) -> Predictions:
        started = time.perf_counter()
        probabilities = self.probabilities(texts)
        return Predictions.top(probabilities, self.trained_ids, time.perf_counter() - started)
