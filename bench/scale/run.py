"""Scale benchmark: the whole `archiver run` at 10,000 and 50,000 URLs, and `archiver verify` of
a bag of 100,000 small files, with peak RSS and time; wget and bagit-python beside them.

    python bench/scale/run.py                                 # 10k and 50k URLs, 100k files
    python bench/scale/run.py --sizes 10000 --files 0 --clean # one size, with cleaning too

1. `archiver run DOC --no-clean` (and with cleaning, given --clean) of a text document citing N
   URLs over 50 loopback hosts (bench/capture/server.py in its own process), for each N: peak RSS
   (GNU time), wall seconds, ms per URL; the ratio of the per-URL times of the largest and the
   smallest N (1.0 is linear). Then `archiver verify` of each bag (peak RSS, seconds).
2. wget --warc-file -i on the same URLs as the smallest N (peak RSS, seconds).
3. `archiver verify` of a synthetic bag of M small files (made once with bagit-python, SHA-256
   and SHA-512, as our bags are), and `bagit.py --validate` of the same bag.

Peak RSS is read by GNU time (`/usr/bin/time -f %M`), not from this process's rusage (see
bench/capture/run.py's peak_rss_mb). Target: every peak under 300 MB, the per-URL ratio near 1.
About 4 minutes for 10,000 URLs and 20 for 50,000 on the 2-core machine; 100,000 files take about
2 minutes to build and a minute to verify each way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "capture"))

import run as capture_bench  # noqa: E402  (bench/capture/run.py: its servers and CLI environment)

WGET = "/usr/bin/wget"
TARGET_MB = 300.0


def start_servers(hosts: int) -> tuple[subprocess.Popen[str], int]:
    return capture_bench.start_servers(hosts, 0.0)


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(peak RSS in MB, wall seconds, exit code) of a command, read by GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *cmd],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        elapsed = time.perf_counter() - t0
        kib = int(report.read().strip().splitlines()[-1])
    if proc.returncode not in (0, 8):  # wget: 8 is "a server answered an error"
        print(f"  {Path(cmd[0]).name} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return kib / 1024, elapsed, proc.returncode


def archiver_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(capture_bench.CLI_ENV, PYTHONPATH=str(ROOT))
    return env


def urls(port: int, n: int, hosts: int) -> list[str]:
    # interleave hosts, as a citation list would
    return [f"http://127.0.0.{i % hosts + 1}:{port}/page/{i}.html" for i in range(n)]


def verdict(mb: float) -> str:
    return "PASS" if mb < TARGET_MB else "FAIL"


def run_archiver(work: Path, n: int, links: list[str], clean: bool) -> tuple[float, Path | None]:
    """One whole `archiver run`; prints its line and returns (seconds, bag)."""
    label = "clean" if clean else "no-clean"
    doc = work / f"cited-{n}.txt"
    doc.write_text("".join(f"See {u} for the record.\n" for u in links))
    out = work / f"runs-{label}-{n}"
    cmd = [sys.executable, "-m", "archiver", "run", str(doc), "--out", str(out)]
    cmd += ["--name", "bag", "--delay", "0", "--progress", "none", "--concurrency", "50"]
    cmd += [] if clean else ["--no-clean"]
    mb, secs, code = measure(cmd, archiver_env())
    bag = out / "bag"
    print(
        f"archiver run {label:8} {n:7,} URLs: {secs:8.1f} s, {secs / n * 1000:6.2f} ms/URL, "
        f"peak RSS {mb:6.1f} MB ({verdict(mb)}), exit {code}",
        flush=True,
    )
    return secs, bag if bag.is_dir() else None


def run_verify(bag: Path, what: str) -> None:
    cmd = [sys.executable, "-m", "archiver", "verify", str(bag)]
    mb, secs, code = measure(cmd, archiver_env())
    print(
        f"archiver verify {what}: {secs:8.1f} s, peak RSS {mb:6.1f} MB ({verdict(mb)}), "
        f"exit {code}",
        flush=True,
    )


def run_wget(work: Path, links: list[str]) -> tuple[float, float]:
    listing = work / "wget-list.txt"
    listing.write_text("\n".join(links) + "\n")
    cmd = [WGET, "--no-proxy", "--quiet", "--tries=1", f"--warc-file={work / 'wget'}"]
    cmd += ["-i", str(listing), "-P", str(work / "wget-files")]
    mb, secs, _ = measure(cmd)
    n = len(links)
    print(
        f"wget --warc-file -i      {n:7,} URLs: {secs:8.1f} s, {secs / n * 1000:6.2f} ms/URL, "
        f"peak RSS {mb:6.1f} MB",
        flush=True,
    )
    shutil.rmtree(work / "wget-files", ignore_errors=True)
    return secs, mb


def make_small_bag(path: Path, files: int) -> None:
    """A valid BagIt bag of `files` small files in folders of 1,000, made with bagit-python."""
    import bagit

    if (path / "bagit.txt").exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    for i in range(files):
        folder = path / f"d{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir()
        (folder / f"f{i:06d}.txt").write_bytes(f"file {i}\n".encode() * 8)
    bagit.make_bag(str(path), {"Source-Organization": "Bench"}, checksums=["sha256", "sha512"])


def many_files(work: Path, files: int) -> None:
    bag = work / f"small-{files}"
    t0 = time.perf_counter()
    make_small_bag(bag, files)
    print(f"bag of {files:,} small files ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    run_verify(bag, f"{files:,} files  ")
    bagit_py = shutil.which("bagit.py") or "bagit.py"
    mb, secs, code = measure([sys.executable, bagit_py, "--validate", "--quiet", str(bag)])
    print(
        f"bagit.py --validate {files:,} files: {secs:8.1f} s, peak RSS {mb:6.1f} MB, exit {code}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,50000", help="URL counts, comma-separated")
    ap.add_argument("--files", type=int, default=100_000, help="files in the verify bag (0: skip)")
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--clean", action="store_true", help="also run with cleaning")
    ap.add_argument("--no-peers", action="store_true", help="skip wget")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/archiver-bench-scale"))
    ap.add_argument("--keep", action="store_true", help="keep the bags afterwards")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    per_url: dict[tuple[bool, int], float] = {}
    if sizes:
        server, port = start_servers(args.hosts)
        try:
            for n in sizes:
                links = urls(port, n, args.hosts)
                for clean in (False, True) if args.clean else (False,):
                    secs, bag = run_archiver(work, n, links, clean)
                    per_url[clean, n] = secs / n
                    if bag is not None:
                        run_verify(bag, f"{n:,}-URL bag")
                    if not args.keep:
                        shutil.rmtree(bag.parent if bag else work / "none", ignore_errors=True)
                if n == sizes[0] and not args.no_peers and not Path(WGET).exists():
                    print(f"wget: {WGET} not found, peer skipped")
                elif n == sizes[0] and not args.no_peers:
                    wget_secs, _ = run_wget(work, links)
                    ours = per_url[False, n] * n
                    print(f"  archiver / wget time at {n:,} URLs: {ours / wget_secs:.2f}x")
        finally:
            server.kill()
            server.wait()
        for clean in (False, True):
            runs = sorted((n, t) for (c, n), t in per_url.items() if c == clean)
            if len(runs) >= 2:
                (small, t_small), (large, t_large) = runs[0], runs[-1]
                print(
                    f"per-URL time {large:,} / {small:,} URLs "
                    f"({'clean' if clean else 'no-clean'}): {t_large / t_small:.2f} (1.00 = linear)"
                )
    if args.files:
        many_files(work, args.files)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
