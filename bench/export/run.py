"""Benchmark: `archiver export --format wacz` against py-wacz's `wacz create`, same WARCs.

Captures 1,000 local pages over 50 loopback hosts into a sealed bag with ``archiver run`` (once),
then, in the same run on the same WARCs, times (best of ``--repeat``):

* ours: ``archiver export BAG --format wacz`` (checks every input against the bag's manifest,
  indexes the replayable records, lists the cited pages with their cleaned text)
* peer: ``wacz create -o FILE WARC...`` (py-wacz, what users run today)

and prints seconds, the ratio, the pages each WACZ lists, its size and ``wacz validate``'s verdict.

    python bench/export/run.py [--pages 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench" / "capture"))

import run as capture_bench  # noqa: E402  (bench/capture/run.py: its servers and URL list)


def make_bag(work: Path, pages: int, env: dict[str, str]) -> Path:
    server, port = capture_bench.start_servers(50, 0.0)
    try:
        doc = work / "doc.txt"
        doc.write_text("\n".join(capture_bench.page_urls(port, pages=pages)) + "\n")
        run = [sys.executable, "-m", "archiver", "run", str(doc), "--out", str(work / "out"),
               "--delay", "0", "--progress", "none", "--concurrency", "50"]  # fmt: skip
        proc = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"archiver run failed: {proc.stderr[-500:]}")
        return Path(proc.stdout.strip().splitlines()[-1])
    finally:
        server.kill()
        server.wait()


def listed_pages(wacz: Path) -> int:
    with zipfile.ZipFile(wacz) as z:
        names = [n for n in z.namelist() if n.startswith("pages/") and n.endswith(".jsonl")]
        return sum(len(z.read(n).splitlines()) - 1 for n in names)  # minus each header line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO), **capture_bench.CLI_ENV)
    work = Path(tempfile.mkdtemp(prefix="export-bench-"))
    try:
        bag = make_bag(work, args.pages, env)
        warcs = sorted(str(p) for p in (bag / "data" / "warcs").glob("*.warc.gz"))
        tools = {
            "archiver export --format wacz": lambda out: [
                sys.executable, "-m", "archiver", "export", str(bag), "--format", "wacz",
                "--out", str(out)],
            "peer: wacz create (py-wacz)": lambda out: ["wacz", "create", "-o", str(out), *warcs],
        }  # fmt: skip
        best: dict[str, tuple[float, Path]] = {}
        for i in range(args.repeat):
            for name, command in tools.items():  # taking turns: load hits both alike
                out = work / f"{len(best)}-{i}-{name.split()[0]}.wacz"
                t0 = time.perf_counter()
                proc = subprocess.run(command(out), env=env, capture_output=True, check=False)
                elapsed = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed: {proc.stderr[-500:]!r}")
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, out)
        print(f"{args.pages} pages captured by archiver run; {len(warcs)} WARC file(s)")
        for name, (elapsed, out) in best.items():
            valid = subprocess.run(["wacz", "validate", "-f", str(out)], capture_output=True)
            print(f"  {name:32s} {elapsed:6.2f} s  pages listed {listed_pages(out):5d}  "
                  f"{out.stat().st_size / 1e6:6.1f} MB  wacz validate: "
                  f"{'ok' if valid.returncode == 0 else 'FAILED'}")  # fmt: skip
        ours, peer = (best[n][0] for n in tools)
        print(f"  ratio ours/peer = {ours / peer:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
