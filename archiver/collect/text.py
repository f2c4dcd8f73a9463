"""URLs in plain text and Markdown, line by line, and how a text document is decoded."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from archiver.collect.normalize import normalize_url
from archiver.collect.seeds import Finding as Citation

# Characters that end a URL in prose. Besides whitespace and the delimiters RFC 3986 appendix C
# names (<>"`), curly quotes, the ellipsis and full-width CJK punctuation never occur in the
# URLs people cite, but often sit right next to them.
_STOP = '\\s<>"`|\u2026\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u201a\u200b-\u200d\ufeff' + (
    "\u3002\uff0c\u3001\uff1b\uff1a\uff01\uff1f\uff08\uff09\u3010\u3011\u300c\u300d\u300e\u300f"
    "\u300a\u300b\u3008\u3009"
)


_CANDIDATE = re.compile(
    rf"(?:(?<![\w+.-])[Hh][Tt][Tt][Pp][Ss]?://|(?<![\w.@/:%-])[Ww][Ww][Ww]\.)[^{_STOP}]*"
)


_TRAILING_PUNCT = ".,;:!?*'"


_PAIRS = {")": "(", "]": "[", "}": "{"}


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


_MAX_LINE = 1 << 20  # read long lines in pieces so memory stays bounded


def _trim(candidate: str) -> str:
    """Strip what prose put around a URL: trailing punctuation and unbalanced closers."""
    cut = candidate.find("](")  # Markdown "[https://label](https://target)"
    if cut != -1:
        candidate = candidate[: cut + 1]
    while candidate:
        last = candidate[-1]
        unbalanced = last in _PAIRS and candidate.count(last) > candidate.count(_PAIRS[last])
        if last not in _TRAILING_PUNCT and not unbalanced:
            break
        candidate = candidate[:-1]
    return candidate


def _scan_line(line: str) -> Iterator[tuple[str, bool]]:
    """Yield (URL as written, truncated) for each URL in one line of prose."""
    pos = 0
    while m := _CANDIDATE.search(line, pos):
        written = _trim(m.group(0))
        end = m.start() + len(written)
        pos = max(end, m.start() + 1)
        truncated = end == m.end() and line.startswith("\u2026", end)
        yield written, truncated


def urls_in_line(line: str) -> Iterator[tuple[str, str, bool]]:
    """Yield (as written, normalised URL, truncated) for each fetchable URL in a line of prose."""
    for written, truncated in _scan_line(line):
        # "www." without a scheme: http://, which every server answers; a site that only
        # serves HTTPS redirects, and the capture records that redirect.
        bare_www = "://" not in written[:8]
        url = normalize_url("http://" + written if bare_www else written)
        if url is None or (bare_www and "." not in url.split("/")[2]):
            continue
        yield written, url, truncated


def citations_from_lines(
    lines: Iterable[tuple[int, str]], document: str, where: str
) -> Iterator[Citation]:
    for number, line in lines:
        for written, url, truncated in urls_in_line(line):
            yield Citation(url, written, f"{where}:{number}", document, truncated)


def find_urls_in_text(text: str, document: str) -> list[Citation]:
    """Every URL cited in plain text or Markdown, in order, with ``document:line`` locators.

    Bare URLs, ``<...>`` autolinks, ``[text](url)`` and reference definitions (``[1]: url``)
    all reduce to "a URL followed by punctuation", which ``_trim`` removes. Repeats are kept:
    use ``group_by_url`` to deduplicate.
    """
    numbered = enumerate(_LINE_BREAK.split(text), start=1)
    return list(citations_from_lines(numbered, document, document))


def text_encoding(head: bytes) -> str:
    """UTF-8 (the usual case, BOM allowed), else what charset-normalizer guesses."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8-sig"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else "utf-8"


def numbered_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) pairs, reading at most ``_MAX_LINE`` characters at a time."""
    number = 1
    with open(path, encoding=encoding, errors="replace", newline=None) as f:
        while piece := f.readline(_MAX_LINE):
            yield number, piece
            if piece.endswith("\n"):
                number += 1
