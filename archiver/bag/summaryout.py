"""The provenance summary's two files, HTML and plain text, written one capture at a time.

A run of 50,000 URLs has a summary of tens of megabytes: it is written as it is rendered, in
pieces, never built as one string, so memory stays flat however many URLs a bag holds. The bytes
are the same as joining every piece at once (``render_summary`` does that for small callers).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass

VERIFY_STEPS = (
    ("With archiver", "archiver verify BAG"),
    ("BagIt check with the Library of Congress tool", "bagit.py --validate BAG"),
    (
        "Timestamps, signature and manifests with openssl and coreutils only",
        "see docs/verify-by-hand.md (openssl ts -verify, openssl pkeyutl -verify, sha256sum -c)",
    ),
)
VERIFY_NOTE = (
    "BAG is this bag's folder. This summary is itself in the payload, so it is covered by the "
    "manifests: if it were changed, verification would fail."
)
CSS = (
    "body{font-family:Georgia,serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{width:16em;background:#eee}td{word-break:break-all;font-family:monospace}"
    "p.note{font-style:italic}"
)
_FLUSH_AT = 1 << 16  # characters buffered before a write: few writes, little memory


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str]]
    note: str = ""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


@functools.lru_cache(maxsize=128)
def _label(text: str) -> str:
    """A row label, escaped once: a capture's table has the same dozen labels as every other."""
    return _e(text)


def _row(label: str, value: str) -> str:
    return f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>"


def _labelled_row(label: str, value: str) -> str:
    return f"<tr><th>{_label(label)}</th><td>{_e(value)}</td></tr>"


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join([_labelled_row(k, v) for k, v in rows]) + "</table>"


class _Joined:
    """Parts joined by newlines, as ``"\\n".join(parts)`` would, handed on in large pieces."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._buffer: list[str] = []
        self._size = 0
        self._first = True

    def part(self, text: str) -> None:
        """A new part: a newline before it unless it is the first."""
        self.more(text if self._first else "\n" + text)
        self._first = False

    def more(self, text: str) -> None:
        """Text added to the current part, with no newline."""
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._write("".join(self._buffer))
            self._buffer.clear()
            self._size = 0


def capture_parts(heading: str, rows: list[tuple[str, str]]) -> tuple[str, str]:
    """One capture's HTML and text, each following what came before on a new line."""
    html_part = f"\n<h3>{_e(heading)}</h3>{_table(rows)}"
    return html_part, "".join([f"\n{heading}", *[f"\n    {k}: {v}" for k, v in rows], "\n"])


def failure_parts(url: str, why: str) -> tuple[str, str]:
    """One failure's HTML table row and text line (the table is opened by the first)."""
    return _row(url, why), f"\n{url}: {why}"


class SummaryWriter:
    """Writes both files in step: header sections, each capture, each failure, how to verify."""

    def __init__(self, write_html: Callable[[str], object], write_text: Callable[[str], object]):
        self._html = _Joined(write_html)
        self._text = _Joined(write_text)
        self._failures = 0

    def head(self, title: str, sections: list[Section]) -> None:
        h, t = self._html, self._text
        for part in ("<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">'):
            h.part(part)
        h.part(f"<title>{_e(title)}</title><style>{CSS}</style></head><body>")
        h.part(f"<h1>{_e(title)}</h1>")
        for line in (title, "=" * len(title), ""):
            t.part(line)
        for s in sections:
            h.part(f"<h2>{_e(s.title)}</h2>{_table(s.rows)}")
            if s.note:
                h.part(f'<p class="note">{_e(s.note)}</p>')
            for line in (s.title, "-" * len(s.title), *(f"{k}: {v}" for k, v in s.rows)):
                t.part(line)
            for line in [s.note, ""] if s.note else [""]:
                t.part(line)
        h.part("<h2>What was captured</h2>")
        t.part("What was captured")
        t.part("-----------------")

    def capture(self, heading: str, rows: list[tuple[str, str]]) -> None:
        self.rendered(*capture_parts(heading, rows))

    def rendered(self, html: str | Iterable[str], text: str | Iterable[str]) -> None:
        """Captures already rendered (``capture_parts``), e.g. spooled in an earlier pass."""
        for joined, pieces in ((self._html, html), (self._text, text)):
            for piece in [pieces] if isinstance(pieces, str) else pieces:
                joined.more(piece)

    def start_failures(self, any_captures: bool) -> None:
        if not any_captures:
            self._html.part("<p>No URLs were attempted.</p>")
            self._text.part("No URLs were attempted.")
            self._text.part("")
        self._html.part("<h2>What failed and why</h2>")
        self._text.part("What failed and why")
        self._text.part("-------------------")

    def failure(self, url: str, why: str) -> None:
        self.rendered_failures(1, *failure_parts(url, why))

    def rendered_failures(
        self, count: int, html: str | Iterable[str], text: str | Iterable[str]
    ) -> None:
        """``count`` failures already rendered (``failure_parts``), in order."""
        if count == 0:
            return
        if self._failures == 0:
            self._html.part("<table>")
        self._failures += count
        self.rendered(html, text)

    def finish(self) -> None:
        h, t = self._html, self._text
        if self._failures:
            h.more("</table>")
        else:
            h.part("<p>Every URL was captured.</p>")
            t.part("Every URL was captured.")
        h.part("<h2>How to verify</h2>")
        h.part(_table(list(VERIFY_STEPS)))
        h.part(f'<p class="note">{_e(VERIFY_NOTE)}</p></body></html>\n')
        for line in ("", "How to verify", "-------------"):
            t.part(line)
        for label, command in VERIFY_STEPS:
            t.part(f"{label}: {command}")
        t.part(VERIFY_NOTE)
        t.part("")
        h.flush()
        t.flush()
