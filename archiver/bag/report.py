"""The result of validating a bag: every problem, per file, and how much was actually hashed.

``files_checked`` and ``bytes_checked`` are there so a report can never be mistaken for proof
of fixity when nothing was hashed (fast mode, or a bag whose manifests could not be read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archiver.base.problems import Problem


@dataclass
class BagReport:
    """The outcome of validating one bag: every problem found, and how much was hashed."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    version: str | None = None
    files_checked: int = 0
    bytes_checked: int = 0
    algorithms: list[str] = field(default_factory=list)
    fast: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def codes(self, severity: str | None = None) -> set[str]:
        return {p.code for p in self.problems if severity in (None, p.severity)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "valid": self.valid,
            "mode": "fast" if self.fast else "full",
            "version": self.version,
            "algorithms": self.algorithms,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
        }
