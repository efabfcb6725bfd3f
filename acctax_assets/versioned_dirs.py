"""Directory assets (datasets, adapters) written atomically: each materialization builds a new version
folder under a temp name, renames it into place, then swaps a one-line CURRENT pointer with os.replace.
A crash at any point leaves the previous version current and intact."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from acctax_assets.atomic_writes import build_directory, write_text

POINTER = "CURRENT"
_VERSION = re.compile(r"^[A-Za-z0-9_.-]+$")


class VersionedDirs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def current(self) -> Path | None:
        pointer = self.root / POINTER
        if not pointer.exists():
            return None
        version = self.root / pointer.read_text(encoding="utf-8").strip()
        return version if version.is_dir() else None

    def versions(self) -> list[Path]:
        """Published versions, oldest first."""
        if not self.root.exists():
            return []
        return sorted(
            (p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime_ns,
        )

    def publish(self, version: str, build: Callable[[Path], None], keep: int | None = None) -> Path:
        """Build `version` via `build(folder)`, make it current; optionally prune to the newest `keep`."""
        if not _VERSION.fullmatch(version):
            raise ValueError(f"version name {version!r} must be letters, digits, '.', '_' or '-'")
        target = build_directory(self.root / version, build)
        self.point_to(target)
        if keep is not None:
            self.prune(keep)
        return target

    def point_to(self, version: Path) -> None:
        write_text(self.root / POINTER, version.name)

    def prune(self, keep: int) -> None:
        current = self.current()
        for old in self.versions()[:-keep] if keep > 0 else []:
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
