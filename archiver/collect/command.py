"""`archiver urls DOCUMENT...`: list the URLs a document cites, grouped, as text or JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.collect.documents import find_urls, group_by_url
from archiver.collect.seeds import Finding as Citation


def urls_command(paths: list[Path | str], *, as_json: bool, show_all: bool = False) -> int:
    """``archiver urls DOC...``: print each distinct URL with where it was cited.

    Text output: ``URL<TAB>first locator`` plus ``(+N more)`` when cited again, or one line
    per citation with ``show_all``. JSON output holds every citation.
    """
    for path in paths:
        given = str(path)
        if urlsplit(given).scheme.lower() in ("http", "https") and not Path(given).exists():
            raise ArchiverError(
                f"{given}: is a URL; archiver urls reads local documents. To capture a URL and "
                f"what it links to, use `archiver run {given}`",
                EXIT_USAGE,
            )
    citations: list[Citation] = []
    for path in paths:
        citations.extend(find_urls(path))
    grouped = group_by_url(citations)
    out = sys.stdout
    if as_json:
        doc = {
            "documents": [str(p) for p in paths],
            "urls": [
                {"url": g.url, "citations": [asdict(c) for c in g.citations]} for g in grouped
            ],
        }
        json.dump(doc, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return 0
    for g in grouped:
        shown = g.citations if show_all else g.citations[:1]
        for c in shown:
            more = len(g.citations) - 1
            extra = f"\t(+{more} more)" if more and not show_all else ""
            flag = "\t(truncated?)" if c.truncated else ""
            out.write(f"{g.url}\t{c.locator}{extra}{flag}\n")
    return 0
