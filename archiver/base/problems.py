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


_BREAKS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, 0x85)}
_BREAKS.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    """``text`` with control characters and line separators escaped.

    Messages quote bytes from damaged files; a report line must stay one line however those
    bytes look (a bare CR or a vertical tab would otherwise split it).
    """
    return text.translate(_BREAKS)
