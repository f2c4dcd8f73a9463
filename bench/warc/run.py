"""Benchmark: writing and checking WARCs, ours vs warcio (the usual Python WARC library).

On the same input, in the same run, with the page cache warm:

* write: one response record with an N MiB body (half text-like, half random bytes, so gzip has
  real work), plus 200 small request/response pairs,
    ours: ``WarcWriter`` (SHA-256 block + payload digests, SHA-256/512 of the file while writing)
    peer: warcio ``WARCWriter(gzip=True, warc_version="1.1")`` (SHA-1 block + payload digests)
* check: every digest of every record of the file ours wrote,
    ours: ``check_warc``
    peer: ``warcio check`` (``warcio.checker.Checker``)

Prints seconds, MB/s and the ratio ours/peer (time; < 1 means ours is faster), and the peak
traced Python memory of each (tracemalloc), which must stay far below the body size.

    python bench/warc/run.py [--mib 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from warcio.checker import Checker  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from archiver.warc.check import check_warc  # noqa: E402
from archiver.warc.writer import NewRecord, WarcWriter  # noqa: E402

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"


def make_body(path: Path, mib: int) -> None:
    rng = random.Random(28500)
    words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(5000)]
    with open(path, "wb") as f:
        for i in range(mib):
            if i % 2:
                f.write(rng.randbytes(1 << 20))
            else:
                f.write(b" ".join(rng.choices(words, k=120_000))[: 1 << 20].ljust(1 << 20))


def small_pairs() -> list[tuple[bytes, bytes]]:
    rng = random.Random(1)
    out = []
    for i in range(200):
        body = rng.randbytes(rng.randint(200, 20000))
        req = b"GET /%d HTTP/1.1\r\nHost: bench.test\r\n\r\n" % i
        out.append((req, HEAD % len(body) + body))
    return out


def ours_write(directory: Path, body: Path, pairs) -> Path:
    closed: list[Path] = []
    w = WarcWriter(
        directory,
        prefix="BENCH",
        hostname="bench",
        warcinfo={"software": "bench"},
        on_file_closed=lambda p, d: closed.append(p),
        max_file_size=1 << 40,
    )
    size = body.stat().st_size
    with open(body, "rb") as f:
        block = io.BufferedReader(_Concat(HEAD % size, f))  # head + body without a copy
        w.write(
            [
                NewRecord(
                    "response",
                    "http://bench.test/big",
                    "application/http;msgtype=response",
                    block,
                    len(HEAD % size) + size,
                    http_payload=True,
                )
            ]
        )
    for i, (req, resp) in enumerate(pairs):
        uri = f"http://bench.test/{i}"
        w.write(
            [
                NewRecord(
                    "response",
                    uri,
                    "application/http;msgtype=response",
                    resp,
                    len(resp),
                    http_payload=True,
                ),
                NewRecord(
                    "request",
                    uri,
                    "application/http;msgtype=request",
                    req,
                    len(req),
                    http_payload=True,
                ),
            ]
        )
    w.close()
    return closed[0]


def peer_write(path: Path, body: Path, pairs) -> Path:
    size = body.stat().st_size
    with open(path, "wb") as out:
        w = WARCWriter(out, gzip=True, warc_version="1.1")
        info = w.create_warcinfo_record(path.name, {"software": "bench"})
        w.write_record(info)
        with open(body, "rb") as f:
            hdrs = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
                protocol="HTTP/1.1",
            )
            rec = w.create_warc_record(
                "http://bench.test/big", "response", payload=f, length=size, http_headers=hdrs
            )
            w.write_record(rec)
        for i, (_req, resp) in enumerate(pairs):
            uri = f"http://bench.test/{i}"
            _head, _, payload = resp.partition(b"\r\n\r\n")
            hdrs = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Length", str(len(payload))),
                ],
                protocol="HTTP/1.1",
            )
            r = w.create_warc_record(
                uri, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=hdrs
            )
            q = w.create_warc_record(
                uri,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders(
                    f"GET /{i} HTTP/1.1", [("Host", "bench.test")], is_http_request=True
                ),
            )
            w.write_request_response_pair(q, r)
    return path


class _Concat(io.RawIOBase):
    """A seekable-from-0 reader over a small prefix followed by a file."""

    def __init__(self, prefix: bytes, f) -> None:
        self._prefix, self._f, self._pos = prefix, f, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        assert pos == 0 and whence == 0
        self._pos = 0
        self._f.seek(0)
        return 0

    def readinto(self, b) -> int:
        if self._pos < len(self._prefix):
            n = min(len(b), len(self._prefix) - self._pos)
            b[:n] = self._prefix[self._pos : self._pos + n]
        else:
            n = self._f.readinto(b)
        self._pos += n
        return n


def timed(fn, *args):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn(*args)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, elapsed, peak


def peer_check(path: Path) -> int:
    with redirect_stdout(io.StringIO()):
        return Checker(type("A", (), {"inputs": [str(path)], "verbose": False})()).process_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="archiver-bench-warc-"))
    try:
        body = tmp / "body.bin"
        make_body(body, args.mib)
        pairs = small_pairs()
        mb = (body.stat().st_size + sum(len(a) + len(b) for a, b in pairs)) / 1e6
        rows = {"write": [], "check": []}
        for n in range(args.repeat):
            d = tmp / f"ours{n}"
            ours_file, t_ours, m_ours = timed(ours_write, d, body, pairs)
            peer_file, t_peer, m_peer = timed(peer_write, tmp / f"peer{n}.warc.gz", body, pairs)
            rows["write"].append((t_ours, t_peer, m_ours, m_peer))
            result, c_ours, cm_ours = timed(check_warc, ours_file)
            assert result.problems == [], result.problems[:3]
            _, c_peer, cm_peer = timed(peer_check, ours_file)
            rows["check"].append((c_ours, c_peer, cm_ours, cm_peer))
            shutil.rmtree(d)
            (tmp / f"peer{n}.warc.gz").unlink()
        print(f"input: {mb:.0f} MB ({args.mib} MiB body + 200 small pairs), best of {args.repeat}")
        for name, r in rows.items():
            t_ours = min(x[0] for x in r)
            t_peer = min(x[1] for x in r)
            m_ours = max(x[2] for x in r) / 2**20
            m_peer = max(x[3] for x in r) / 2**20
            print(
                f"{name:6} ours {t_ours:6.2f}s {mb / t_ours:6.1f} MB/s  peak {m_ours:5.1f} MiB | "
                f"warcio {t_peer:6.2f}s {mb / t_peer:6.1f} MB/s  peak {m_peer:5.1f} MiB | "
                f"ratio ours/peer {t_ours / t_peer:.2f}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
