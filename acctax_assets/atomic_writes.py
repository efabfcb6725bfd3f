"""Every write the platform makes, made atomic: build the new content under a hidden temporary sibling, then rename
it over the target. A crash, a full disk or a failed writer leaves the old content or the new one, never a torn
file, a half-filled folder or temp debris (ARCHITECTURE.md §1: writes are atomic).

Files on the local disk (`replace_file`, `write_text`), files on any fsspec storage through UPath (`stream_file`:
object stores rename by copy, which is still all-or-nothing for the reader), and folders (`build_directory` for a
new version folder, `replace_directory` for a folder that is rebuilt in place).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from acctax_assets.errors import STORAGE_ERRORS, StorageWriteError

if TYPE_CHECKING:
    from upath import UPath

# What a folder write that failed leaves: the staging folder is removed and no version pointer moved.
UNPUBLISHED = "nothing was published: the previous version is still the current one, unchanged"


def replace_file(path: Path, write: Callable[[Path], object]) -> Path:
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


def write_text(path: Path, text: str) -> Path:
    return replace_file(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def stream_file(path: UPath, write: Callable[[IO[Any]], object]) -> None:
    """`write(stream)` fills a binary stream of a temp sibling on any fsspec storage; storage errors (disk full,
    permissions) become StorageWriteError, which says the previous file is intact."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("wb") as stream:
            write(stream)
        temp.rename(path)
    except BaseException as error:
        if temp.exists():
            temp.unlink()
        if isinstance(error, OSError):
            raise StorageWriteError(path, error) from error
        raise


def build_directory(target: Path, build: Callable[[Path], object]) -> Path:
    """A new folder `target` filled by `build(staging)`; it appears complete or not at all. Never overwrites.
    Storage errors (disk full, permissions) become StorageWriteError, which says nothing was published."""
    if target.exists():
        raise FileExistsError(f"{target} already exists; versions are never overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        build(staging)
        staging.rename(target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in STORAGE_ERRORS:
            raise StorageWriteError(target, error, kept=UNPUBLISHED) from error
        raise
    return target


def replace_directory(target: Path, build: Callable[[Path], object]) -> Path:
    """`target` rebuilt by `build(staging)`: the old folder is moved aside only once the new one is complete, so an
    interruption leaves the old folder (between the two renames: under its hidden `.retired` name)."""
    if not target.exists():
        return build_directory(target, build)
    staged = build_directory(target.with_name(f".{target.name}.{uuid.uuid4().hex}.new"), build)
    retired = target.with_name(f".{target.name}.{uuid.uuid4().hex}.retired")
    target.rename(retired)
    staged.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target
