"""Benchmark archiver.clean against trafilatura and readability-lxml on article pages.

Scores every extractor with the scrapinghub article-extraction-benchmark metric (4-token
shingles, per-page normalised, macro precision/recall; see docs/clean.md) on the same pages in
the same run, and prints ms/page with the ratio to trafilatura's default setting.

    python bench/extract/run.py [--data bench/data/extract-bench-dev] [--repeat 1] [--worst 5]
        [--cv 5]

``--cv K`` (default 5; 0 skips it) also prints, for each of our candidate configurations, the
mean F1 on held-out folds with the thresholds chosen on the other folds, beside the F1 on all
dev pages, with the peers' per-fold figures (see ``cv.py``).

The metric is written here from the benchmark's description rather than imported, because the
benchmark is not a Python package.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_TOKEN_RE = re.compile(r"\w+")
PATHS: Counter[str] = Counter()  # which path produced our text, per page


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; a text shorter than n tokens is one shorter shingle."""
    tokens = _TOKEN_RE.findall(text or "")
    out: Counter[tuple[str, ...]] = Counter()
    for i in range(max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i : i + n])
        if shingle:
            out[shingle] += 1
    return out


def page_counts(truth: str, pred: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of one page, normalised to sum to 1 so long pages do not dominate."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp = sum(p.values()) - tp
    fn = sum(t.values()) - tp
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def prf(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Macro precision (pages with predictions), macro recall (pages with truth), their F1."""
    precisions = [tp / (tp + fp) for tp, fp, _ in counts if tp + fp > 0]
    recalls = [tp / (tp + fn) for tp, _, fn in counts if tp + fn > 0]
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


def bootstrap_std(counts: list[tuple[float, float, float]], samples: int = 500) -> float:
    rng = random.Random(0)
    f1s = [prf(rng.choices(counts, k=len(counts)))[2] for _ in range(samples)]
    return statistics.pstdev(f1s)


def load_pages(data_dir: Path) -> list[tuple[str, str, bytes, str]]:
    """(id, url, html bytes, truth text) for every page with ground truth, sorted by id."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        raw = gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append((page_id, truth[page_id]["url"], raw, truth[page_id]["articleBody"]))
    return pages


def extractors() -> dict[str, Callable[[bytes, str], str]]:
    """Ours gets the raw bytes (it decodes itself); the peers get UTF-8 text like the benchmark."""
    import html_text
    import trafilatura
    from readability import Document

    from archiver.clean.extract import extract

    def ours(raw: bytes, url: str) -> str:
        result = extract(raw, url, "text/html")
        PATHS[result.path] += 1
        return result.text

    def traf_default(raw: bytes, url: str) -> str:
        return trafilatura.extract(raw.decode("utf-8"), include_comments=False) or ""

    def traf_precision(raw: bytes, url: str) -> str:
        html = raw.decode("utf-8")
        return trafilatura.extract(html, include_comments=False, favor_precision=True) or ""

    def readability(raw: bytes, url: str) -> str:
        return html_text.extract_text(Document(raw.decode("utf-8")).summary(html_partial=True))

    return {
        "archiver.clean": ours,
        "trafilatura default": traf_default,
        "trafilatura favor_precision": traf_precision,
        "readability-lxml": readability,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "bench/data/extract-bench-dev")
    ap.add_argument("--repeat", type=int, default=1, help="timing runs per page (best is kept)")
    ap.add_argument("--worst", type=int, default=0, help="list our N lowest-F1 pages")
    ap.add_argument("--only", nargs="*", help="run only these extractors")
    ap.add_argument("--cv", type=int, default=5, metavar="K", help="K-fold CV (0: skip)")
    args = ap.parse_args()

    pages = load_pages(args.data)
    chosen = {n: f for n, f in extractors().items() if not args.only or n in args.only}
    for fn in chosen.values():
        fn(pages[0][2], pages[0][1])  # warm-up: model loading is not per-page cost
    PATHS.clear()
    counts: dict[str, list[tuple[float, float, float]]] = {n: [] for n in chosen}
    times: dict[str, list[float]] = {n: [] for n in chosen}
    empties = dict.fromkeys(chosen, 0)
    # Extractors take turns page by page, so load from other processes on this machine
    # slows all of them alike and the ratio stays meaningful.
    for _page_id, url, raw, truth in pages:
        for name, fn in chosen.items():
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                text = fn(raw, url)
                best = min(best, time.perf_counter() - start)
            times[name].append(best * 1000)
            counts[name].append(page_counts(truth, text))
            empties[name] += bool(truth.strip()) and not _TOKEN_RE.search(text)
    rows = []
    for name in chosen:
        p, r, f1 = prf(counts[name])
        rows.append(
            (
                name,
                f1,
                bootstrap_std(counts[name]),
                p,
                r,
                statistics.fmean(times[name]),
                statistics.median(times[name]),
                empties[name],
            )
        )
    per_page = counts

    base = next((row[5] for row in rows if row[0] == "trafilatura default"), None)
    print(f"{len(pages)} pages from {args.data}")
    print(
        f"{'extractor':30} {'F1':>13} {'P':>6} {'R':>6} {'ms/page':>8} {'median':>7} "
        f"{'x traf':>6} {'empty':>5}"
    )
    for name, f1, std, p, r, mean_ms, median_ms, empties in rows:
        ratio = f"{mean_ms / base:6.2f}" if base else "   n/a"
        print(
            f"{name:30} {f1:.3f} ± {std:.3f} {p:6.3f} {r:6.3f} {mean_ms:8.1f} {median_ms:7.1f} "
            f"{ratio} {empties:5d}"
        )

    if PATHS:
        paths = ", ".join(f"{k} {v // args.repeat}" for k, v in PATHS.most_common())
        print(f"archiver.clean paths: {paths}")

    if args.cv:
        _cross_validate(pages, args.cv, per_page)

    if args.worst and "archiver.clean" in per_page:
        scored = []
        for (page_id, url, _, _), (tp, fp, fn) in zip(
            pages, per_page["archiver.clean"], strict=True
        ):
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
            scored.append((f1, page_id[:12], url))
        print(f"\nworst {args.worst} pages for archiver.clean (page F1, id, url):")
        for f1, page_id, url in sorted(scored)[: args.worst]:
            print(f"  {f1:.3f} {page_id} {url}")
    return 0


def _cross_validate(
    pages: list[tuple[str, str, bytes, str]], k: int, per_page: dict[str, list]
) -> None:
    from cv import cross_validate, page_engines, print_cv

    engines = [page_engines(raw, url, truth) for _, url, raw, truth in pages]
    rows, split = cross_validate(engines, k, page_counts, lambda c: prf(c)[2])
    peers = {n: per_page.get(n, []) for n in ("trafilatura default", "trafilatura favor_precision")}
    print_cv(rows, split, {n: c for n, c in peers.items() if c}, lambda c: prf(c)[2])
    from archiver.clean.html import COMBINER

    shipped = ", ".join(f"{key}={value}" for key, value in COMBINER.options().items())
    gated = next(row for row in rows if row.name.startswith("gated:"))
    same = "the same as" if gated.chosen == shipped else "NOT the same as"
    print(f"shipped COMBINER ({shipped}) is {same} the gated row's choice on all pages")


if __name__ == "__main__":
    raise SystemExit(main())
