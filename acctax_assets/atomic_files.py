"""Atomic file replacement: write a hidden temp sibling, rename it over the target, and remove it on any failure,
so a crash or a full disk leaves the old file or the new one, never a torn file or temp debris."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(temp)` fills a temp file beside `path` (same suffix, for writers that pick a format by it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return replace_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))
