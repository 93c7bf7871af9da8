"""Exception types that separate a user's mistake from a failed trial and from a bug.

The CLI prints an :class:`AutomlError` as one line and exits 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AutomlError(Exception):
    """A mistake in what the user asked for: one line saying what, where, the rule and the fix."""


class SpaceError(AutomlError):
    """A search-space file that cannot be used (malformed YAML, unknown key, invalid range, ...)."""


class DataError(AutomlError):
    """A dataset that cannot be found or read."""


class StorageError(AutomlError):
    """A storage URL that is malformed or unreachable, or a study that cannot be used as asked."""


class TrialFailed(Exception):
    """One trial failed (diverged, bad configuration); the search records the reason and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SearchAborted(AutomlError):
    """The search stopped itself, e.g. after too many consecutive failed trials."""
