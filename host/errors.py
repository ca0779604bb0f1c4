"""Counted, reported input errors.

Bad input never stops a replay: each problem is counted by kind with the
position (file offset or MoldUDP64 sequence) where it first occurred, and the
pipeline goes on with the next good message.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class TickaccelError(Exception):
    """Unusable input or configuration: the CLI prints it as one line and exits non-zero."""


class BackendUnavailable(TickaccelError):
    """A backend was asked for by name but is not present on this machine."""


@dataclass
class ErrorLog:
    """Counts of each error kind and the position where it was first seen."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, position: int, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + count
        if kind not in self.first or position < self.first[kind]:
            self.first[kind] = int(position)

    def merge(self, other: "ErrorLog") -> None:
        for kind, count in other.counts.items():
            self.add(kind, other.first[kind], count)

    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            kind: {"count": self.counts[kind], "first_position": self.first[kind]}
            for kind in sorted(self.counts)
        }
