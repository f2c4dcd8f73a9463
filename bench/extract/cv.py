"""K-fold cross-validation of the cleaner's tunable choices on the development pages.

A figure measured on the pages a threshold was chosen on flatters it. Here every configuration's
choices (its grid of ``Combiner`` thresholds) are picked on K-1 folds and scored on the fold left
out; the mean of those held-out scores is the figure to trust. Engines run once per page and
their texts are cached, so a grid point costs only the combining rule, which is the very code
``archiver.clean.html.extract_html`` runs (``Combiner.choose``).
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archiver.base.charset import decode_html
from archiver.clean import html as clean_html
from archiver.clean.html import Combiner, tidy_text, word_count

Counts = tuple[float, float, float]
Scorer = Callable[[list[Counts]], float]
SEED = 12  # fixed, so every run splits the pages the same way
_TOKEN_RE = re.compile(r"\w+")
RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
NEVER = 10**9  # a min_words no text reaches: readability always runs


@dataclass
class PageEngines:
    """Each engine's text of one page, computed once for every grid point."""

    truth: str
    traf: dict[str, str]  # "fast" / "full" (trafilatura's own fallbacks) -> text
    read: str
    body: str
    paragraph_words: int


@dataclass(frozen=True)
class Vote:
    """Paragraph voting: after the combiner (readability always run), drop each trafilatura
    paragraph of at least ``min_words`` words that shares less than ``share`` of its 3-token
    shingles with readability's text, unless that would drop over half of the words."""

    share: float
    min_words: int

    def options(self) -> dict[str, object]:
        return {"vote_share": self.share, "vote_min_words": self.min_words}


@dataclass(frozen=True)
class Candidate:
    """A configuration: which trafilatura run, and the grid its thresholds are chosen from."""

    name: str
    traf: str
    grid: tuple[Combiner, ...] | tuple[Vote, ...]


def candidates() -> list[Candidate]:
    gated = tuple(
        Combiner(m, s, r)
        for m, s, r in itertools.product((0, 25, 50, 100, 200), (0, 0.25, 0.5, 0.75), RATIOS)
    )
    always = tuple(Combiner(NEVER, 0, r) for r in RATIOS)
    never = (Combiner(0, 0, 0),)  # readability only when trafilatura found nothing
    votes = tuple(Vote(v, m) for v, m in itertools.product((0.1, 0.3, 0.5), (0, 5, 15)))
    return [
        Candidate("trafilatura only (ours: fp, fast)", "fast", never),
        Candidate("always both, ratio (before)", "fast", always),
        Candidate("gated: both when unsure", "fast", gated),
        Candidate("trafilatura only (fp, not fast)", "full", never),
        Candidate("always both, not fast", "full", always),
        Candidate("gated, not fast", "full", gated),
        Candidate("paragraph voting (always both)", "fast", votes),
    ]


def page_engines(raw: bytes, url: str, truth: str) -> PageEngines:
    """Run each engine once, the way ``extract_html`` calls it (same options, same tidying)."""
    html = decode_html(raw, None).text
    params = clean_html._date_params(None)
    traf = {"fast": tidy_text(_traf_text(html, url, params, fast=True))}
    traf["full"] = tidy_text(_traf_text(html, url, params, fast=False))
    read = tidy_text(clean_html._run_readability(html))
    no_text = not word_count(read) and not all(word_count(t) for t in traf.values())
    body = tidy_text(clean_html._body_text(html)) if no_text else ""
    shape = clean_html.page_shape(html)
    return PageEngines(truth, traf, read, body, shape.paragraph_words)


def _traf_text(html: str, url: str, params: dict[str, object], *, fast: bool) -> str:
    import trafilatura

    options = {**clean_html.TRAFILATURA_OPTIONS, "fast": fast}
    doc = trafilatura.bare_extraction(html, url=url, date_extraction_params=params, **options)
    return (doc.text or "") if doc is not None else ""


def combined(page: PageEngines, traf: str, combiner: Combiner) -> tuple[str, bool]:
    """(text, readability ran) for one page under one grid point, as ``extract_html`` does."""
    ran = []

    def read() -> str:
        ran.append(True)
        return page.read

    text, path = combiner.choose(page.traf[traf], page.paragraph_words, read)
    return (text if path != "empty" else page.body), bool(ran)


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = [t.lower() for t in _TOKEN_RE.findall(text)]
    return {tuple(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}


def voted(page: PageEngines, traf: str, vote: Vote) -> tuple[str, bool]:
    """Trafilatura's paragraphs that readability confirms (see ``Vote``); always runs both."""
    text, _ = combined(page, traf, Combiner(NEVER, 0, 0.5))
    if text == page.read:
        return text, True
    confirmed = _shingles(page.read)
    keep, dropped = [], 0
    for para in text.split("\n"):
        own = _shingles(para)
        words = word_count(para)
        if words >= vote.min_words and words and len(own & confirmed) < vote.share * len(own):
            dropped += words
        else:
            keep.append(para)
    return (text if dropped > 0.5 * word_count(text) else "\n".join(keep)), True


def outcome(page: PageEngines, cand: Candidate, point: Combiner | Vote) -> tuple[str, bool]:
    if isinstance(point, Vote):
        return voted(page, cand.traf, point)
    return combined(page, cand.traf, point)


def folds(n: int, k: int) -> list[list[int]]:
    """Page indexes split into k folds of near-equal size, shuffled with a fixed seed."""
    order = list(range(n))
    random.Random(SEED).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


class Grid:
    """Per-page counts and readability calls of every grid point of one candidate (memoised)."""

    def __init__(self, cand: Candidate, pages: list[PageEngines], count: Callable) -> None:
        self.cand = cand
        self.rows: list[tuple[list[Counts], list[bool]]] = []
        for combiner in cand.grid:
            outs = [outcome(p, cand, combiner) for p in pages]
            counts = [count(p.truth, text) for p, (text, _) in zip(pages, outs, strict=True)]
            self.rows.append((counts, [ran for _, ran in outs]))

    def best(self, idx: Iterable[int], score: Scorer) -> int:
        """Grid point with the highest F1 on ``idx``; ties go to *more* readability runs.

        Ties are common (few pages need readability), and the cautious side of a tie is the
        one that asks the second engine more often: in cross-validation, breaking ties toward
        fewer runs lost 0.005 of held-out F1 for the speed it gained.
        """
        idx = list(idx)
        keyed = []
        for g, (counts, ran) in enumerate(self.rows):
            keyed.append((-score([counts[i] for i in idx]), -sum(ran[i] for i in idx), g))
        return min(keyed)[2]

    def score(self, g: int, idx: Iterable[int], score: Scorer) -> float:
        return score([self.rows[g][0][i] for i in idx])


@dataclass
class CvRow:
    name: str
    held_out: list[float]  # per fold, thresholds chosen on the other folds
    full_dev: float  # thresholds chosen and scored on all pages (the flattering figure)
    chosen: str  # the thresholds chosen on all pages
    readability_share: float  # share of pages where readability ran, at that choice
    agree: int = 0  # folds whose training pages chose the same thresholds as all pages did

    @property
    def mean(self) -> float:
        return statistics.fmean(self.held_out)


def cross_validate(
    pages: list[PageEngines], k: int, count: Callable, score: Scorer
) -> tuple[list[CvRow], list[list[int]]]:
    """Mean held-out-fold F1 and full-dev F1 of every candidate configuration."""
    split = folds(len(pages), k)
    everything = range(len(pages))
    rows = []
    for cand in candidates():
        grid = Grid(cand, pages, count)
        held, picks = [], []
        for fold in split:
            train = [i for i in everything if i not in set(fold)]
            picks.append(grid.best(train, score))
            held.append(grid.score(picks[-1], fold, score))
        g = grid.best(everything, score)
        chosen = cand.grid[g].options() if len(cand.grid) > 1 else {}
        share = sum(grid.rows[g][1]) / len(pages)
        label = ", ".join(f"{key}={value}" for key, value in chosen.items()) or "-"
        full = grid.score(g, everything, score)
        rows.append(CvRow(cand.name, held, full, label, share, picks.count(g)))
    return rows, split


def print_cv(
    rows: list[CvRow], split: list[list[int]], peers: dict[str, list[Counts]], score: Scorer
) -> None:
    """Held-out mean, full-dev F1 and per-fold figures; peers (no tuning) scored per fold."""
    k = len(split)
    print(f"\n{k}-fold cross-validation (seed {SEED}; choices made on the other {k - 1} folds)")
    heads = " ".join(f"{f'fold{i + 1}':>6}" for i in range(k))
    print(
        f"{'configuration':36} {'held-out':>8} {'full-dev':>8} {heads} {'read%':>5} "
        f"{'same':>4}  chosen (on all pages; same: folds that chose it too)"
    )
    for row in rows:
        per = " ".join(f"{f:6.3f}" for f in row.held_out)
        print(
            f"{row.name:36} {row.mean:8.4f} {row.full_dev:8.4f} {per} "
            f"{100 * row.readability_share:5.0f} {row.agree:2d}/{k}  {row.chosen}"
        )
    for name, counts in peers.items():
        per_fold = [score([counts[i] for i in fold]) for fold in split]
        per = " ".join(f"{f:6.3f}" for f in per_fold)
        full = score(counts)
        print(f"{name + ' (peer)':36} {statistics.fmean(per_fold):8.4f} {full:8.4f} {per}")
