"""What collecting hands on: a cited URL and the citations (document, place, words) behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """One place where a document cites a URL, as the capture log records it."""

    document: str  # the citing document: its name in the bag, or the citing page's URL
    locator: str  # "file:line", "file:page N" (PDF), or the page URL / file (HTML)
    cited_as: str  # as written (brackets and punctuation stripped), fragment kept

    def to_json(self) -> dict[str, str]:
        return {"document": self.document, "locator": self.locator, "cited_as": self.cited_as}

    @classmethod
    def from_json(cls, raw: Any) -> Citation:
        """A citation from its JSON form; ValueError when it is not one."""
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), str) for k in ("document", "locator", "cited_as")
        ):
            raise ValueError(f"not a citation: {raw!r:.80}")
        return cls(raw["document"], raw["locator"], raw["cited_as"])


@dataclass(frozen=True)
class Finding:
    """What a URL finder reports: the URL to fetch and where and how it was written."""

    url: str  # normalised, fragment removed: what gets fetched
    cited_as: str  # as written (brackets and punctuation stripped), fragment kept
    locator: str  # "file:line", "file:page N" (PDF), or the page URL / file (HTML)
    document: str  # the citing document's path or URL
    truncated: bool = False  # written with a trailing "…": the URL was probably shortened

    @property
    def citation(self) -> Citation:
        return Citation(self.document, self.locator, self.cited_as)


@dataclass(frozen=True)
class CitedUrl:
    """A distinct URL and every place it was cited, in the order found."""

    url: str
    citations: tuple[Finding, ...]


@dataclass
class Seed:
    """A URL to capture, why (its citations), and how many link levels to follow from it."""

    url: str
    hops: int = 0  # 0: just this URL; n: also links in its main content, n levels deep
    citations: list[Citation] = field(default_factory=list)
    hop: int = 0  # > 0: a link found on page ``via`` (a resumed run re-queues these)
    via: str | None = None
