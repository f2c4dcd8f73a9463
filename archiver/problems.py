"""The shared shape of a verification finding, used by every checker (BagIt, WARC, capture log).

Checkers return lists of problems instead of raising, so a report names every problem at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    code: str  # stable, kebab-case, e.g. "payload-checksum-mismatch"
    path: str  # what it concerns, relative to the bag root ("" for the bag itself)
    message: str  # one human sentence
    severity: Severity = "error"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity}: {where}{self.message} [{self.code}]"
