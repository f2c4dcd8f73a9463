"""Classify how a URL's latest capture differs from an earlier one (docs/reports.md).

The rules read only what the bags prove: the capture log's outcome, status, final URL, payload
digest and failure class, and the cleaned texts in ``data/text/``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.capture.log import CaptureEntry
from archiver.capture.logparts import TextRef
from archiver.keep.previous import previous_runs
from archiver.keep.runs import RunBag

GONE_STATUSES = (404, 410, 451)
BLOCKED_ERRORS = ("private-address", "robots")
STATES = ("gone", "unreachable", "blocked")  # alarming only when the URL was not so before
ALARMING = ("text-changed", "moved", "replaced-by-notice", *STATES)
CLASSES = ("new", "unchanged", "changed-outside-text", *ALARMING)

# The notice rule: the previous text had at least NOTICE_MIN_BEFORE words, the new one has under
# NOTICE_SHARE of them and under NOTICE_MAX_WORDS words, and it either reads like a removal notice
# (a phrase below, in several languages) or is nearly empty (under NOTICE_BARE_WORDS words).
NOTICE_MIN_BEFORE = 50
NOTICE_SHARE = 0.2
NOTICE_MAX_WORDS = 150
NOTICE_BARE_WORDS = 25
NOTICE_PHRASES = re.compile(
    r"\b(?:has been|have been|was|were) (?:removed|deleted|taken down|withdrawn|unpublished)\b"
    r"|\b(?:no longer|not) (?:available|accessible|exists?)\b|\bpage not found\b"
    r"|\bcontent (?:removed|unavailable)\b|\blegal (?:reasons|request|demand)\b"
    r"|\bwurde (?:entfernt|gelöscht)\b|\bnicht (?:mehr )?verfügbar\b"
    r"|\ba été (?:supprimée?|retirée?)\b|\bn'est plus disponible\b|\bcontenu supprimé\b"
    r"|\bha sido (?:eliminad[oa]|retirad[oa])\b|\bya no está disponible\b|\bno disponible\b"
    r"|\bfoi removid[oa]\b|\bnão está (?:mais )?disponível\b"
    r"|\bбыл[аио]? удален|\bнедоступн|\bне найден"
    r"|已删除|已被删除|内容不存在|无法查看|该内容|页面不存在|已下架",
    re.IGNORECASE,
)
MAX_TEXT_BYTES = 4 * 1024 * 1024  # beyond this, the diff uses the first 4 MiB of each text
MAX_DIFF_WORDS = 20000  # words per side fed to difflib (quadratic in the worst case)
MAX_HUNKS = 40
MAX_HUNK_WORDS = 60


@dataclass(frozen=True)
class Side:
    """One capture: which bag, and what it logged."""

    bag: RunBag
    entry: CaptureEntry

    @property
    def text(self) -> TextRef | None:
        t = self.entry.text
        return t if isinstance(t, TextRef) else None

    @property
    def final(self) -> str:
        return self.entry.final_url or self.entry.url

    def words(self) -> list[str] | None:
        """The cleaned text's words, or None when the capture has no readable text."""
        t = self.text
        if t is None:
            return None
        try:
            with (self.bag.path / "data" / t.path).open("rb") as f:
                raw = f.read(MAX_TEXT_BYTES)
        except OSError:
            return None
        return raw.decode("utf-8", "replace").split()


@dataclass
class Change:
    """What happened to one URL between ``before`` (None: first capture) and ``after``."""

    url: str
    cls: str
    reason: str
    before: Side | None
    after: Side
    diff: dict[str, Any] | None = None

    @property
    def alarm(self) -> bool:
        """Worth a mail: the text or place changed, or the URL went dark since ``before``."""
        if self.cls in STATES:
            return self.before is not None and state(self.before.entry) != self.cls
        return self.cls in ALARMING


def state(e: CaptureEntry) -> str:
    """Whether a capture got the page: "ok", or the dark state it was in."""
    err = e.error.cls if e.error else None
    if e.outcome == "blocked" or err in BLOCKED_ERRORS:
        return "blocked"
    if e.outcome == "failed":
        return "unreachable"
    if e.status in GONE_STATUSES:
        return "gone"
    return "unreachable" if e.outcome == "http-error" else "ok"


def classify(url: str, before: Side | None, after: Side) -> Change:
    """The class of ``after`` against ``before``: state of the URL first, then what changed."""
    e = after.entry
    now = state(e)
    if now != "ok":
        why = e.error.cls if e.error and e.status is None else f"HTTP {e.status}"
        return Change(url, now, why if e.outcome != "blocked" else "robots.txt", before, after)
    if before is None:
        return Change(url, "new", "no earlier capture", before, after)
    if after.final != before.final:
        return Change(url, "moved", f"now ends at {after.final}", before, after)
    if e.payload_sha256 and e.payload_sha256 == before.entry.payload_sha256:
        return Change(url, "unchanged", "same payload digest", before, after)
    b_text, a_text = before.text, after.text
    if b_text and a_text and b_text.sha256 == a_text.sha256:
        return Change(url, "changed-outside-text", "payload differs, same text", before, after)
    return _text_change(url, before, after)


def _text_change(url: str, before: Side, after: Side) -> Change:
    old, new = before.words(), after.words()
    if old is None or new is None:
        return Change(url, "text-changed", "payload differs; no text to compare", before, after)
    diff = word_diff(old, new)
    if is_notice(old, new):
        return Change(url, "replaced-by-notice", notice_reason(old, new), before, after, diff)
    return Change(
        url,
        "text-changed",
        f"{diff['added']} words added, {diff['removed']} removed",
        before,
        after,
        diff,
    )


def is_notice(old: list[str], new: list[str]) -> bool:
    """The text collapsed (see the rule above) to something that reads like a removal notice."""
    if len(old) < NOTICE_MIN_BEFORE or len(new) >= NOTICE_MAX_WORDS:
        return False
    if len(new) >= NOTICE_SHARE * len(old):
        return False
    return len(new) < NOTICE_BARE_WORDS or bool(NOTICE_PHRASES.search(" ".join(new)))


def notice_reason(old: list[str], new: list[str]) -> str:
    found = NOTICE_PHRASES.search(" ".join(new))
    what = f'reads "{found.group(0)}"' if found else "nearly empty"
    return f"text fell from {len(old)} to {len(new)} words and {what}"


def word_diff(old: list[str], new: list[str]) -> dict[str, Any]:
    """A bounded word-level diff: counts, and up to MAX_HUNKS changed runs of words."""
    cut = len(old) > MAX_DIFF_WORDS or len(new) > MAX_DIFF_WORDS
    a, b = old[:MAX_DIFF_WORDS], new[:MAX_DIFF_WORDS]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    hunks: list[dict[str, Any]] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        removed += i2 - i1
        added += j2 - j1
        if len(hunks) < MAX_HUNKS:
            hunks.append(
                {
                    "at_word": i1,
                    "removed": _clip(a[i1:i2]),
                    "added": _clip(b[j1:j2]),
                    "context": _clip(a[max(0, i1 - 8) : i1]),
                }
            )
    return {
        "added": added,
        "removed": removed,
        "hunks": hunks,
        "hunks_omitted": _count_changes(matcher) - len(hunks),
        "truncated": cut,
    }


def _count_changes(matcher: difflib.SequenceMatcher[str]) -> int:
    return sum(1 for op in matcher.get_opcodes() if op[0] != "equal")


def _clip(words: list[str]) -> str:
    text = " ".join(words[:MAX_HUNK_WORDS])
    return text + (" …" if len(words) > MAX_HUNK_WORDS else "")


def compare_runs(
    bags: list[RunBag], base: RunBag | None, catalog: Path | None = None
) -> list[Change]:
    """Each URL of the latest run against ``base``, or against its own previous capture.

    Only the runs compared are read (``catalog``, when it covers them, says which ones).
    """
    latest = bags[-1]
    if base is not None:
        where = {u: (base, e) for u, e in base.entries.items() if u in latest.entries}
    else:
        where = previous_runs(bags, latest.entries, catalog)
    changes = []
    for url, entry in sorted(latest.entries.items()):
        before = Side(*where[url]) if url in where else None
        changes.append(classify(url, before, Side(latest, entry)))
    return changes


def path_in_bag(side: Side) -> str | None:
    """The text file's path relative to the runs folder, or None."""
    t = side.text
    return None if t is None else str(Path(side.bag.name) / "data" / t.path)
