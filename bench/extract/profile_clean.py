"""Where the cleaner spends its time per page: cProfile over ``extract()`` on the dev pages.

    python bench/extract/profile_clean.py [--data bench/data/extract-bench-dev] [--top 30]

Prints the mean ms/page and the functions with the most cumulative time. The first page is
cleaned once before profiling, so imports and model loading are not counted.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from run import load_pages

    from archiver.clean.extract import extract

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "bench/data/extract-bench-dev")
    ap.add_argument("--top", type=int, default=30, help="functions to list")
    args = ap.parse_args()
    pages = load_pages(args.data)
    extract(pages[0][2], pages[0][1], "text/html")  # warm-up: imports, language model
    paths: Counter[str] = Counter()
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for _page_id, url, raw, _truth in pages:
        paths[extract(raw, url, "text/html").path] += 1
    profile.disable()
    elapsed = time.perf_counter() - start
    print(f"{len(pages)} pages, {1000 * elapsed / len(pages):.1f} ms/page under the profiler")
    print("paths: " + ", ".join(f"{k} {v}" for k, v in paths.most_common()))
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
