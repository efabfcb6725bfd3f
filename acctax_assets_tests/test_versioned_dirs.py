"""Directory assets: atomic versions, a crash keeps the previous version, versions are never overwritten."""

from pathlib import Path

import pytest

from acctax_assets.versioned_dirs import POINTER, VersionedDirs


def write(folder: Path, text: str) -> None:
    (folder / "data.txt").write_text(text)


def test_publish_makes_a_new_current_version_and_prunes(tmp_path: Path) -> None:
    store = VersionedDirs(tmp_path / "asset")
    assert store.current() is None
    first = store.publish("v1", lambda f: write(f, "one"))
    second = store.publish("v2", lambda f: write(f, "two"), keep=1)
    assert store.current() == second and (second / "data.txt").read_text() == "two"
    assert not first.exists()
    assert sorted(p.name for p in (tmp_path / "asset").iterdir()) == [POINTER, "v2"]


def test_crash_while_building_keeps_the_previous_version(tmp_path: Path) -> None:
    store = VersionedDirs(tmp_path / "asset")
    good = store.publish("v1", lambda f: write(f, "good"))

    def crash(folder: Path) -> None:
        write(folder, "half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.publish("v2", crash)
    assert store.current() == good
    assert sorted(p.name for p in (tmp_path / "asset").iterdir()) == [POINTER, "v1"]


def test_versions_are_never_overwritten(tmp_path: Path) -> None:
    store = VersionedDirs(tmp_path / "asset")
    store.publish("v1", lambda f: write(f, "one"))
    with pytest.raises(FileExistsError):
        store.publish("v1", lambda f: write(f, "again"))
