"""Batch prediction with a stored adapter (no Dagster): top-k codes and probabilities per text.

Untrained slots (spare slots, codes absent from the training split) are masked with the adapter's
trained_classes.json, so no head type (BERT with bias, Qwen `score` without) can ever propose them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from tokenizers import Encoding, Tokenizer
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

from acctax_assets.ml.adapter import AdapterRef
from acctax_assets.ml.adapter.masking import mask_untrained
from acctax_assets.ml.data.encodings import ENCODING_FIELDS
from acctax_assets.ml.serving.predictions import Predictions

Device = Literal["auto", "cpu", "cuda"]


def resolve_device(device: Device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA GPU. Fix: use device='auto' or 'cpu'")
    return torch.device(device)


def token_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of at most `batch_size` rows of one token length each, so nothing is padded.

    Sorting by characters left a sizeable share of pad tokens in a Korean month's batches (a Hangul syllable is 2-3
    tokens, a digit or Latin letter often less than one; benchmarks/README.md, predict.py), all computed and thrown
    away; and with int8 dynamic quantization the pads even moved the activation ranges of the rows beside them.
    """
    order = np.argsort(lengths, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1)
    return [group[start : start + batch_size] for group in groups for start in range(0, len(group), batch_size)]


def truncating_encoder(tokenizer: Any, max_length: int | None) -> Tokenizer:
    """A copy of the tokenizer's Rust backend that truncates as `tokenizer(texts, truncation=True,
    max_length=max_length)` does and never pads (the transformers call rewrites the shared backend's settings)."""
    if not tokenizer.is_fast:
        raise ValueError(f"{tokenizer.name_or_path}: a fast (tokenizers) tokenizer is required")
    encoder = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    encoder.no_padding()
    limit = max_length if max_length is not None else tokenizer.model_max_length
    if limit < VERY_LARGE_INTEGER:
        encoder.enable_truncation(limit, direction=tokenizer.truncation_side)
    else:
        encoder.no_truncation()
    return encoder


@contextmanager
def single_threaded_ops() -> Iterator[None]:
    """torch ops on one thread each while worker threads run batches side by side, restored afterwards (the
    setting is process-wide)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Predictor:
    """The adapter on its base model in eval mode, with the untrained-slot mask and the training truncation.

    On CPU the linear layers are quantized to int8 (torch dynamic quantization) unless `quantize=False`: the
    matmuls dominate a small encoder's or decoder's forward pass, and int8 weights make them cheaper.

    On CPU, `workers` threads (default: torch's thread count, every core unless OMP_NUM_THREADS says otherwise)
    each run whole batches with single-threaded ops. torch's own intra-op threads meet at a barrier after every
    op, dozens per layer; on a machine whose cores other processes share, each barrier waits for the slowest
    thread's next time slice, so on a loaded machine 2 intra-op threads ran slower than 1 (benchmarks/README.md,
    predict.py), while batch-level workers never wait for each other (the ops release the GIL).
    """

    def __init__(
        self,
        adapter: AdapterRef,
        device: Device = "auto",
        batch_size: int = 64,
        quantize: bool = True,
        workers: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.workers = workers or torch.get_num_threads()
        self.max_length = adapter.text_spec().max_length
        self.tokenizer = adapter.load_tokenizer()
        self.encoder = truncating_encoder(self.tokenizer, self.max_length)
        self.input_names = [name for name in self.tokenizer.model_input_names if name in ENCODING_FIELDS]
        # Folding the LoRA deltas into the base weights removes the adapter's extra matmuls from every forward pass.
        model = adapter.load_model().merge_and_unload().to(self.device)
        self.quantized = quantize and self.device.type == "cpu"
        if self.quantized:
            from torch.ao.quantization import quantize_dynamic

            model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        label_slots = adapter.label_slots()
        self.trained_ids = np.asarray(adapter.trained_class_ids(), dtype=np.int64)
        untrained = torch.ones(label_slots.max_classes, dtype=torch.bool)
        untrained[self.trained_ids] = False
        self.untrained = untrained.to(self.device)

    def batched_inputs(self, texts: Sequence[str]) -> list[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """Each text tokenized once; (row indices, model inputs) per batch of equal token length. Only the id
        tensors are kept: a `tokenizers.Encoding` also holds token strings and offsets, several KB a row."""
        encodings = self.encoder.encode_batch(list(texts))
        lengths = np.fromiter((len(encoding.ids) for encoding in encodings), dtype=np.int64, count=len(encodings))
        return [
            (rows, {name: self._tensor([encodings[row] for row in rows], name) for name in self.input_names})
            for rows in token_batches(lengths, self.batch_size)
        ]

    @staticmethod
    def _tensor(encodings: Sequence[Encoding], name: str) -> torch.Tensor:
        return torch.from_numpy(np.array([getattr(encoding, ENCODING_FIELDS[name][0]) for encoding in encodings]))

    def _scores(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            logits = self.model(**{name: tensor.to(self.device) for name, tensor in inputs.items()}).logits.float()
            return torch.softmax(mask_untrained(logits, self.untrained), dim=-1).cpu().numpy()

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(rows x slots) probabilities in input order."""
        batches = self.batched_inputs(texts)
        probabilities = np.zeros((len(texts), self.untrained.numel()), dtype=np.float32)
        if self.device.type != "cpu":
            for rows, inputs in batches:
                probabilities[rows] = self._scores(inputs)
            return probabilities
        workers = max(1, min(self.workers, len(batches)))
        with single_threaded_ops(), ThreadPoolExecutor(workers, thread_name_prefix="predict") as pool:
            for (rows, _), scores in zip(
                batches, pool.map(self._scores, [inputs for _, inputs in batches]), strict=True
            ):
                probabilities[rows] = scores
        return probabilities

    def predict(self, texts: Sequence[str]) -> Predictions:
        started = time.perf_counter()
        probabilities = self.probabilities(texts)
        return Predictions.top(probabilities, self.trained_ids, time.perf_counter() - started)
