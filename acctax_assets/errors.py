"""Specific exceptions with actionable messages: each names what failed, why, and how to fix it."""

from __future__ import annotations

from pathlib import Path


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
    """Writing an asset's file failed (disk full, permissions); the previous version is still in place."""

    def __init__(self, path: object, cause: OSError) -> None:
        super().__init__(
            f"{path}: writing failed ({cause}); the previous version of this file is unchanged. "
            "Fix: free disk space or repair permissions on the storage, then re-materialize"
        )


class FeatureConfigError(AcctaxError):
    """The configured feature list names a feature the pipeline does not build."""
