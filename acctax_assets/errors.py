"""Specific exceptions with actionable messages: each names what failed, why, and how to fix it."""

from __future__ import annotations

import errno
from pathlib import Path

# What a write raises when the storage has no room left (device full, or the user's quota spent).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# Errors of the storage itself, as opposed to a writer's own bug or a missing source.
STORAGE_ERRORS = DISK_FULL | {errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}


class AcctaxError(Exception):
    """Base class for errors the platform raises on purpose."""


class LedgerFileError(AcctaxError):
    """A landing file cannot be used; the message names the file, the problem and the fix."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


class ColumnMapError(AcctaxError):
    """The column map configuration itself is invalid."""


class StorageWriteError(AcctaxError):
    """Writing an asset's file or folder failed (disk full, permissions); the previous version is still in place.
    `kept` says what the reader still gets."""

    def __init__(
        self, path: object, cause: OSError, kept: str = "the previous version of this file is unchanged"
    ) -> None:
        if cause.errno in DISK_FULL:
            problem = "the disk is full"
            fix = "free disk space there, or point ACCTAX_HOME (or the IO manager's base_path) at a disk with room"
        else:
            problem, fix = "writing failed", "free disk space or repair permissions on the storage"
        super().__init__(f"{path}: {problem} ({cause}); {kept}. Fix: {fix}, then re-materialize")


class FeatureConfigError(AcctaxError):
    """The configured feature list names a feature the pipeline does not build."""
