"""Benchmark: full bag validation, ours vs ``bagit.py --validate`` vs a pure hashlib baseline.

Builds (once, cached under /tmp, never in the repo) a BagIt 1.0 bag of about 1.1 GB in 11,000
files: 1,000 files of 0.5-1.5 MiB and 10,000 files of 0.2-8 KiB. Then, with the page cache
warm, times in the same run on the same bag:

* ours:     ``python -m archiver.bag BAG`` (every check, SHA-256 + SHA-512 of every file)
* peer:     ``bagit.py --validate --processes 2 BAG`` (bagit-python, the usual tool)
* baseline: read and hash every payload file with SHA-256 + SHA-512 on one thread per core

and prints MB/s (10^6 bytes of payload per second) and the ratios ours/peer and ours/baseline.

    python bench/verify/run.py [--repeat N] [--small]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from archiver.bag.writer import BagBuilder  # noqa: E402

CACHE = Path("/tmp/archiver-bench-verify")


def build(bag: Path, big: int, small: int) -> None:
    """Write the bag through our BagBuilder (hash while writing), deterministic content."""
    rng = random.Random(8493)
    pool = rng.randbytes(8 * 1024 * 1024)
    builder = BagBuilder(bag)
    sizes = [("big", i, rng.randint(512 * 1024, 1536 * 1024)) for i in range(big)]
    sizes += [("small", i, rng.randint(200, 8 * 1024)) for i in range(small)]
    for kind, i, size in sizes:
        start = rng.randrange(0, len(pool) - size)
        rel = f"{kind}/{i // 1000:02d}/{kind}-{i:05d}.bin"
        with builder.open_payload(rel) as w:
            w.write(f"{kind} {i}\n".encode())
            w.write(memoryview(pool)[start : start + size])
    builder.seal([("Source-Organization", "archiver benchmark"), ("External-Description", "bench")])


def payload_files(bag: Path) -> list[Path]:
    return [p for p in (bag / "data").rglob("*") if p.is_file()]


def warm(files: list[Path]) -> None:
    buf = bytearray(1024 * 1024)
    for p in files:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def hashlib_baseline(files: list[Path]) -> None:
    def one(p: Path) -> tuple[str, str]:
        a, b = hashlib.sha256(), hashlib.sha512()
        buf = bytearray(1024 * 1024)
        view = memoryview(buf)
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                a.update(view[:n])
                b.update(view[:n])
        return a.hexdigest(), b.hexdigest()

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, sorted(files, key=lambda p: -p.stat().st_size)))


def _cpu() -> float:
    """CPU seconds used so far by this process and every finished descendant."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall time and CPU time of ``fn``. CPU time is the steadier figure on a shared machine."""
    c0, t0 = _cpu(), time.perf_counter()
    fn()
    elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    print(f"  {label:<38} {elapsed:7.2f} s wall {cpu:7.2f} s cpu", flush=True)
    return elapsed, cpu


def run_cmd(cmd: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds (best is kept)")
    parser.add_argument("--small", action="store_true", help="a 10x smaller bag (smoke test)")
    args = parser.parse_args()
    big, small = (100, 1000) if args.small else (1000, 10000)
    bag = CACHE / f"bag-{big}-{small}"
    if not bag.exists():
        print(f"building {bag} (once) ...", flush=True)
        shutil.rmtree(CACHE / f".{bag.name}.partial", ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        build(bag, big, small)
    files = payload_files(bag)
    total = sum(p.stat().st_size for p in files)
    print(f"bag: {bag}  {len(files)} payload files, {total / 1e6:.0f} MB; cpus={os.cpu_count()}")
    warm(files)
    bagit_cmd = shutil.which("bagit.py")
    peer = [bagit_cmd] if bagit_cmd else [sys.executable, "-m", "bagit"]
    best = {k: float("inf") for k in ("ours", "ours2", "peer", "hashlib")}
    best_cpu = dict(best)
    commands = {
        "ours": ("ours: python -m archiver.bag", [sys.executable, "-m", "archiver.bag", str(bag)]),
        "ours2": (
            "ours, 2 threads (--processes 2)",
            [sys.executable, "-m", "archiver.bag", "--processes", "2", str(bag)],
        ),
        "peer": (
            "peer: bagit.py --validate --processes 2",
            [*peer, "--validate", "--processes", "2", "--quiet", str(bag)],
        ),
    }
    for r in range(args.repeat):
        print(f"round {r + 1}:")
        order = ["ours", "peer", "hashlib", "ours2"]
        if r % 2:  # alternate the order so a change in machine load favours no one
            order.reverse()
        for key in order:
            if key == "hashlib":
                elapsed, cpu = timed("baseline: hashlib threads", lambda: hashlib_baseline(files))
            else:
                label, cmd = commands[key]
                elapsed, cpu = timed(label, lambda cmd=cmd: run_cmd(cmd))
            best[key] = min(best[key], elapsed)
            best_cpu[key] = min(best_cpu[key], cpu)
    mbs = {k: total / 1e6 / v for k, v in best.items()}
    print()
    names = {"ours": "ours", "ours2": "ours (2 thr)", "peer": "bagit.py", "hashlib": "hashlib"}
    for k, label in names.items():
        print(f"{label:<13} {mbs[k]:7.0f} MB/s")
    print(f"ours/bagit.py = {mbs['ours'] / mbs['peer']:.2f}x   (target >= 1.3)")
    print(f"ours/hashlib  = {mbs['ours'] / mbs['hashlib']:.2f}    (target >= 0.95)")
    cpu_rate = {k: total / 1e6 / v for k, v in best_cpu.items()}
    print(
        "per CPU-second (steadier when the machine is shared): "
        + ", ".join(f"{names[k]} {cpu_rate[k]:.0f} MB" for k in names)
    )
    print(
        f"cpu: ours/bagit.py = {cpu_rate['ours'] / cpu_rate['peer']:.2f}x, "
        f"ours/hashlib = {cpu_rate['ours'] / cpu_rate['hashlib']:.2f}"
    )
    print(
        f"with 2 threads like the others: ours/bagit.py = {mbs['ours2'] / mbs['peer']:.2f}x, "
        f"ours/hashlib = {mbs['ours2'] / mbs['hashlib']:.2f}"
    )


if __name__ == "__main__":
    main()
