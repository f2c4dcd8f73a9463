"""The provenance summary made in one pass over a run's entries, as it copies its capture log.

``stream_summary`` reads the entries up to three times (the counts open the file); a run has
them once, while it copies its journal, and keeps each entry's rendered part until the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archiver.bag.summary import (
    SummaryCounts,
    capture_section,
    failure_row,
    overview_sections,
    title,
)
from archiver.bag.summaryout import SummaryWriter, capture_parts, failure_parts
from archiver.base.spool import TextSpool


class SummaryPass:
    """The summary made in one pass over the entries, as a run copies its capture log.

    The overview's counts open the file but are known only after the last entry: each entry's
    capture and failure parts are rendered as it goes by and spooled (in memory, then in a
    temporary file in ``directory``) until ``write``. The bytes are ``stream_summary``'s.
    """

    def __init__(self, directory: Path) -> None:
        self.counts = SummaryCounts()
        self._failures = 0
        # the captures' HTML and text, the failures' HTML and text
        self._spools = [TextSpool(directory) for _ in range(4)]

    def add(self, e: dict[str, Any]) -> None:
        """One entry (``CaptureEntry.to_json``), in capture log order."""
        counts = self.counts
        counts.attempted += 1
        counts.via_proxy = counts.via_proxy or e.get("resolved_by") == "proxy"
        html, text = capture_parts(*capture_section(counts.attempted, e))
        self._spools[0].write(html)
        self._spools[1].write(text)
        if e.get("outcome") == "captured":
            counts.captured += 1
            return
        self._failures += 1
        html, text = failure_parts(*failure_row(e))
        self._spools[2].write(html)
        self._spools[3].write(text)

    def write(
        self, bag_info: list[tuple[str, str]], settings: dict[str, Any], out: SummaryWriter
    ) -> None:
        """The whole summary into ``out`` (once)."""
        out.head(title(bag_info), overview_sections(bag_info, self.counts, settings))
        captures_html, captures_text, failures_html, failures_text = self._spools
        out.rendered(captures_html.chunks(), captures_text.chunks())
        out.start_failures(self.counts.attempted > 0)
        out.rendered_failures(self._failures, failures_html.chunks(), failures_text.chunks())
        out.finish()

    def close(self) -> None:
        for spool in self._spools:
            spool.close()
