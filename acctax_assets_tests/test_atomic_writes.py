"""Atomic writes: a writer that fails leaves the previous content and no temp debris, whatever is written."""

from pathlib import Path

import pytest
from upath import UPath

from acctax_assets.atomic_writes import build_directory, replace_directory, replace_file, stream_file, write_text
from acctax_assets.errors import StorageWriteError


class WriterCrashed(Exception):
    pass


def crash(_: object) -> None:
    raise WriterCrashed


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = write_text(tmp_path / "registry.json", "old")
    with pytest.raises(WriterCrashed):
        replace_file(target, crash)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["registry.json"]
    replace_file(target, lambda temp: temp.write_text("new"))
    assert target.read_text() == "new"


def test_a_stream_that_fails_on_storage_names_the_fix_and_keeps_the_file(tmp_path: Path) -> None:
    target = UPath(tmp_path / "2024-01-01.parquet")
    stream_file(target, lambda stream: stream.write(b"old"))

    def disk_full(stream: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageWriteError, match="previous version of this file is unchanged. Fix: free disk space"):
        stream_file(target, disk_full)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["2024-01-01.parquet"]


def test_a_version_folder_appears_complete_and_is_never_overwritten(tmp_path: Path) -> None:
    with pytest.raises(WriterCrashed):
        build_directory(tmp_path / "v1", lambda folder: ((folder / "half").write_text("x"), crash(folder)))
    assert list(tmp_path.iterdir()) == []
    build_directory(tmp_path / "v1", lambda folder: (folder / "data").write_text("1"))
    with pytest.raises(FileExistsError, match="never overwritten"):
        build_directory(tmp_path / "v1", lambda folder: None)
    assert (tmp_path / "v1" / "data").read_text() == "1"


def test_a_rebuilt_folder_keeps_the_old_one_until_the_new_one_is_complete(tmp_path: Path) -> None:
    target = build_directory(tmp_path / "adapter", lambda folder: (folder / "weights").write_text("old"))
    with pytest.raises(WriterCrashed):
        replace_directory(target, lambda folder: ((folder / "weights").write_text("half"), crash(folder)))
    assert (target / "weights").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["adapter"]
    replace_directory(target, lambda folder: (folder / "weights").write_text("new"))
    assert (target / "weights").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["adapter"]
