"""Where a capture's CPU goes: cProfile of every crawl thread of one in-process ``archiver run``.

    python bench/capture/profile_run.py [--pages 1000] [--concurrency 1] [--top 40]

Starts the benchmark servers (bench/capture/server.py, no latency), runs ``archiver run DOC
--no-clean --processes 1`` in this process with a profiler in each crawl worker thread, and
prints the functions by own time, then the time by package (requests, urllib3, zlib, json, our
modules). One process and few threads keep the profile readable; the numbers are inflated by
the profiler, the shares are what to read. ``--seal`` profiles the main thread instead (start
to sealed bag).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import run as capture_bench  # noqa: E402  (this folder's run.py: servers, URLs, environment)


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time summed per package (or per archiver module, or per built-in)."""
    totals: collections.Counter[str] = collections.Counter()
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (path, _line, name), (_cc, _nc, own, _cum, _callers) in raw.items():
        if path == "~":
            key = name
        elif "/archiver/" in path:
            key = "archiver/" + path.split("/archiver/", 1)[1]
        elif "site-packages/" in path:
            key = path.split("site-packages/", 1)[1].split("/")[0]
        else:  # the standard library: its module or package
            key = re.split(r"/lib/python3\.\d+/", path)[-1].split("/")[0]
        totals[key] += own
    return totals.most_common()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--seal", action="store_true", help="profile the main thread instead")
    args = ap.parse_args()
    os.environ.update(capture_bench.CLI_ENV)
    from archiver.capture import crawl as crawl_module
    from archiver.cli import main as cli_main

    profiles: list[cProfile.Profile] = []
    original = crawl_module._Crawl.worker

    def profiled_worker(self: Any) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    if not args.seal:
        crawl_module._Crawl.worker = profiled_worker  # type: ignore[method-assign]
    server, port = capture_bench.start_servers(50, 0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="capture-profile-") as tmp:
            doc = Path(tmp) / "doc.txt"
            doc.write_text("\n".join(capture_bench.page_urls(port, pages=args.pages)) + "\n")
            argv = ["run", str(doc), "--out", f"{tmp}/out", "--delay", "0", "--progress", "none"]
            argv += ["--no-clean", "--processes", "1", "--concurrency", str(args.concurrency)]
            if args.seal:
                profile = cProfile.Profile()
                profiles.append(profile)
                profile.runcall(cli_main, argv)
            else:
                cli_main(argv)
    finally:
        server.kill()
        server.wait()
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    total = sum(t for _, t in by_package(stats)) or 1.0
    print("own time by package:")
    for key, own in by_package(stats)[: args.top]:
        print(f"  {own:7.3f} s {own / total * 100:5.1f}%  {key}")


if __name__ == "__main__":
    main()
