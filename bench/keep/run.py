"""Benchmark: the catalog, ``archiver history`` and ``archiver report`` on years of runs.

Builds (once, cached under /tmp, never in the repo) a runs folder of RUNS weekly runs of one
collection of URLS URLs as sealed-bag-like folders: ``bagit.txt``, ``bag-info.txt``, a payload
manifest and tag manifest over what is there, and ``data/capture-log.jsonl`` in the real log
format (no WARCs: nothing measured here reads them). The cleaned texts of the last two runs are
written too, since the report diffs them. The mix: most pages stay the same, some change outside
their text, some edit their text, some move, go 404/410, fail now and then, are blocked by
robots.txt, collapse to a removal notice, or are missing from some runs; the latest run adds
URLs never seen before. Then it times, in the same run on the same input:

* ``archiver catalog rebuild`` at 100 runs and at RUNS runs, and the growth ratio (10x the
  runs should cost about 10x the time)
* ``archiver history URL`` (whole CLI and in-process) against the rebuilt catalog, next to the
  peers: ``grep -h`` over every bag's capture log (no catalog) and the ``sqlite3`` CLI's raw
  query (a lower bound: no interpreter, no formatting)
* ``archiver report COLLECTION`` (CLI, in-process, with ``--html``, and with no catalog), next to
  the ``sqlite3`` CLI comparing the last two runs' digests (lower bound) and reading every
  run's log (what a report without the catalog shortcut, and the report before it, did)

and prints seconds, the ratios, and each CLI's peak RSS.

    python bench/keep/run.py [--runs 1000] [--urls 1000] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from archiver.capture.log import read_entries  # noqa: E402
from archiver.keep.catalog import history, open_catalog  # noqa: E402
from archiver.keep.report import report_command  # noqa: E402

NAME = "watch"
START = datetime(2007, 1, 1, 3, 0, tzinfo=UTC)
KINDS = [  # (kind, share of URLs)
    ("stable", 0.69),
    ("chrome", 0.08),
    ("edits", 0.08),
    ("moves", 0.03),
    ("gone", 0.04),
    ("flaky", 0.04),
    ("blocked", 0.01),
    ("notice", 0.01),
    ("churn", 0.02),
]
NOTICE = "This page has been removed for legal reasons."


def _uuid(n: int) -> str:
    h = f"{n:032x}"
    return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _sha(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


class Site:
    """The state of every URL as runs go by: which version each page is at, and its fate."""

    def __init__(self, urls: int, runs: int, seed: int = 1010) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.urls = [f"http://site{i % 50}.example.org/doc/{i}" for i in range(urls)]
        weights = [w for _, w in KINDS]
        self.kind = rng.choices([k for k, _ in KINDS], weights, k=urls)
        self.when = [rng.randrange(1, max(2, runs)) for _ in range(urls)]  # a fate's run
        self.version = [0] * urls
        self.text_version = [0] * urls
        self.new = max(1, urls // 100)  # URLs the latest run adds

    def step(self, run: int, last: bool) -> list[tuple[int, str]]:
        """Advance to ``run``; the (URL index, state) pairs this run logs."""
        rng, out = self.rng, []
        for i, kind in enumerate(self.kind):
            if kind == "chrome" and rng.random() < 0.5:
                self.version[i] += 1
            elif kind == "edits" and rng.random() < 0.2:
                self.version[i] += 1
                self.text_version[i] += 1
            if kind == "churn" and rng.random() < 0.3 and not last:
                continue  # not in this run's sources
            fated = run >= self.when[i]
            state = "ok"
            if kind == "moves" and fated:
                state = "moved"
            elif kind == "gone" and fated:
                state = "gone"
            elif kind == "flaky" and rng.random() < 0.05:
                state = "failed"
            elif kind == "blocked":
                state = "blocked"
            elif kind == "notice" and fated:
                state = "notice"
            out.append((i, state))
        return out


# long because: one flat mapping from a URL's state to its log entry reads best in one place
def entry(site: Site, i: int, state: str, run: int, when: datetime, rec: int) -> dict[str, Any]:
    """One capture-log entry in the real format (manifests/capture-log.schema.json)."""
    url = site.urls[i] if i >= 0 else f"http://new.example.org/doc/{-i}"
    host = url.split("/")[2]
    at = when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    ids = [_uuid(rec * 4 + k) for k in range(3)]
    warc = f"ARCHIVER-{when:%Y%m%d%H%M%S}000000-00000-bench.warc.gz"
    final, status, outcome, error, redirects = url, 200, "captured", None, []
    text: dict[str, str] | None = {
        "path": f"text/{ids[1][9:]}.txt",
        "sha256": _sha("text", i, site.text_version[i] if state != "notice" else "notice"),
        "sidecar": f"text/{ids[1][9:]}.json",
    }
    payload = _sha("payload", i, site.version[i], state)
    if state == "moved":
        final = f"http://moved.example.org/doc/{i}"
        redirects = [{"location": final, "status": 301, "url": url}]
    elif state == "gone":
        status, outcome, text = 410 if i % 2 else 404, "http-error", None
        error = {"at": at, "class": "http-4xx", "message": f"HTTP {status}"}
    elif state in ("failed", "blocked"):
        status, final, text, payload = None, None, None, None  # type: ignore[assignment]
        outcome = state
        cls = "robots" if state == "blocked" else ("timeout" if i % 2 else "dns")
        error = {"at": at, "class": cls, "message": f"{cls} (synthetic)"}
    records = []
    if outcome in ("captured", "http-error"):
        for k, kind in enumerate(("request", "response", "metadata")):
            records.append(
                {
                    "length": 900 + k,
                    "offset": 1000 * (rec % 1000) + k * 300,
                    "record_id": f"<{ids[k]}>",
                    "target_uri": url,
                    "type": kind,
                    "warc_file": warc,
                }
            )
    return {
        "attempts": [],
        "citations": [
            {"cited_as": url, "document": "sources/cited.md", "locator": f"sources/cited.md:{i}"}
        ],
        "content_type": "text/html; charset=utf-8" if status else None,
        "dns": {"answers": ["192.0.2.7"], "at": at, "connected": "192.0.2.7", "host": host,
                "resolver": "system"} if outcome != "failed" else None,
        "ended": at,
        "error": error,
        "final_url": final,
        "hop": 0,
        "ip": "192.0.2.7" if status else None,
        "outcome": outcome,
        "payload_sha256": payload,
        "payload_size": 20000 + i if status else None,
        "provenance_record": f"<{ids[2]}>" if status else None,
        "proxy": None,
        "records": records,
        "redirects": redirects,
        "resolved_by": "client",
        "robots": {"allowed": state != "blocked", "override": False, "reason": None,
                   "record_id": None, "rule": "synthetic", "url": f"http://{host}/robots.txt"},
        "started": at,
        "status": status,
        "text": text,
        "tls": None,
        "truncated": None,
        "url": url,
        "via": None,
    }  # fmt: skip


def text_of(site: Site, i: int, state: str) -> str:
    if state == "notice":
        return NOTICE + "\n"
    words = [f"w{i}x{j}" for j in range(300)]
    for j in range(site.text_version[i] % 300):
        words[(j * 7) % 300] = f"edit{site.text_version[i]}x{j}"
    return " ".join(words) + "\n"


def write_bag(bag: Path, run: int, when: datetime, lines: list[bytes], texts: dict[str, str]):  # type: ignore[no-untyped-def]
    """A sealed-bag-like folder: what ``catalog rebuild`` and ``report`` read, with manifests."""
    data = bag / "data"
    (data / "text").mkdir(parents=True)
    log = b"".join(lines)
    (data / "capture-log.jsonl").write_bytes(log)
    payload = [f"{hashlib.sha256(log).hexdigest()}  data/capture-log.jsonl"]
    for rel, body in texts.items():
        (data / rel).write_text(body, "utf-8")
        payload.append(f"{hashlib.sha256(body.encode()).hexdigest()}  data/{rel}")
    end = when + timedelta(minutes=20)
    tags = {
        "bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": (
            f"External-Description: URLs cited by the {NAME} collection\n"
            f"External-Identifier: {_uuid(10**12 + run)}\n"
            f"Bagging-Date: {end:%Y-%m-%d}\n"
            f"Capture-Start: {when:%Y-%m-%dT%H:%M:%S}.000000Z\n"
            f"Capture-End: {end:%Y-%m-%dT%H:%M:%S}.000000Z\n"
            f"Payload-Oxum: {len(log) + sum(len(t.encode()) for t in texts.values())}."
            f"{1 + len(texts)}\n"
        ),
        "manifest-sha256.txt": "\n".join(payload) + "\n",
    }
    for name, body in tags.items():
        (bag / name).write_text(body, "utf-8")
    tagman = [f"{hashlib.sha256(b.encode()).hexdigest()}  {n}" for n, b in tags.items()]
    (bag / "tagmanifest-sha256.txt").write_text("\n".join(tagman) + "\n", "utf-8")


def build(folder: Path, runs: int, urls: int) -> None:
    """Write RUNS bags into ``folder`` (deterministic), then mark it complete."""
    if (folder / ".complete").is_file():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    site, rec, t0 = Site(urls, runs), 0, time.perf_counter()
    for run in range(runs):
        when = START + timedelta(weeks=run)
        last = run == runs - 1
        states = site.step(run, last)
        if last:
            states += [(-k, "ok") for k in range(1, site.new + 1)]
        lines, texts = [], {}
        for i, state in states:
            rec += 1
            e = entry(site, max(i, 0) if i >= 0 else i, state, run, when, rec)
            if i < 0:
                e["payload_sha256"] = _sha("new", i)
            lines.append(json.dumps(e, sort_keys=True, separators=(",", ":")).encode() + b"\n")
            if run >= runs - 2 and e["text"] is not None and i >= 0:
                texts[e["text"]["path"]] = text_of(site, i, state)
        write_bag(folder / f"{NAME}-{when:%Y%m%dT%H%M%SZ}", run, when, lines, texts)
        if run % 100 == 99:
            print(f"  built {run + 1} runs in {time.perf_counter() - t0:.0f} s", flush=True)
    (folder / ".complete").write_text("done\n")


def link_first(src: Path, dst: Path, runs: int) -> None:
    """``dst`` holds the first ``runs`` bags of ``src`` (hard links: no second copy on disk)."""
    if (dst / ".complete").is_file():
        return
    shutil.rmtree(dst, ignore_errors=True)
    bags = sorted(p for p in src.iterdir() if p.is_dir())[:runs]
    for bag in bags:
        shutil.copytree(bag, dst / bag.name, copy_function=os.link)
    (dst / ".complete").write_text("done\n")


def cli(args: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)):  # type: ignore[no-untyped-def]
    """Run a command; (seconds, its own peak RSS in MB, stdout, its CPU seconds)."""
    full_env = dict(env or os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=full_env)
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            err.seek(0)
            tail = err.read()[-2000:].decode("utf-8", "replace")
            raise SystemExit(f"{' '.join(args[:6])} failed ({proc.returncode}): {tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, out.decode("utf-8", "replace"), cpu


def best(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def archiver(*args: str) -> list[str]:
    return [sys.executable, "-m", "archiver", *args]


def in_process_report(out: Path) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return report_command(NAME, out)


def read_every_log(out: Path) -> int:
    """What a report without the catalog shortcut reads at worst: every run's capture log."""
    return sum(
        1
        for bag in sorted(out.glob(f"{NAME}-*"))
        for _ in read_entries(bag / "data" / "capture-log.jsonl")
    )


def best_cli(n: int, args: list[str], **kw: Any) -> tuple[float, float, str]:
    """The fastest of ``n`` runs of a command: (seconds, peak RSS MB, stdout)."""
    return min((cli(args, **kw)[:3] for _ in range(n)), key=lambda r: r[0])


def bench_rebuild(big: Path, small: Path, runs: int, small_runs: int, repeat: int) -> None:
    """``catalog rebuild`` at RUNS/10 and RUNS runs, and how the time grows (best of ``repeat``;
    CPU seconds too, the steadier figure on a shared machine)."""
    results = {}
    for n, folder in ((small_runs, small), (runs, big)):
        tries = [cli(archiver("catalog", "rebuild", str(folder))) for _ in range(repeat)]
        wall, rss, _, cpu = min(tries, key=lambda r: r[0])
        results[n] = (wall, min(t[3] for t in tries))
        print(
            f"rebuild {n:>5} runs: {wall:7.2f} s wall ({1000 * wall / n:.1f} ms/run), "
            f"{results[n][1]:7.2f} s cpu, RSS {rss:.0f} MB"
        )
    (w1, c1), (w2, c2) = results[small_runs], results[runs]
    grow = runs / small_runs
    print(
        f"growth {small_runs} -> {runs} runs ({grow:.0f}x): wall {w2 / w1:.1f}x, cpu {c2 / c1:.1f}x"
    )


def bench_history(big: Path, url: str, repeat: int) -> float:
    """``archiver history URL`` against grep over every log and the sqlite3 CLI's raw query."""
    catalog = big / "catalog.sqlite"
    logs = sorted(str(p) for p in big.glob(f"{NAME}-*/data/capture-log.jsonl"))
    sql = (
        "SELECT r.capture_start, r.bag, c.outcome, c.status, c.payload_sha256 FROM captures c "
        f"JOIN runs r USING (run_id) WHERE c.url = '{url}' ORDER BY r.capture_start"
    )
    t_cli, rss, _ = best_cli(repeat, archiver("history", url, "--catalog", str(catalog)))
    conn = open_catalog(catalog, create=False)
    t_in, rows = best(repeat, lambda: history(conn, url))
    conn.close()
    t_grep, _, found = best_cli(repeat, ["grep", "-h", "-F", "--", f'"url":"{url}"', *logs])
    t_sql, _, _ = best_cli(repeat, ["sqlite3", "-readonly", str(catalog), sql])
    print(f"\nhistory {url}: {len(rows)} captures ({len(found.splitlines())} lines by grep)")
    print(f"  archiver history (CLI)          {t_cli:7.3f} s  RSS {rss:.0f} MB")
    print(f"  history() in-process            {t_in:7.3f} s")
    print(f"  peer: grep -h over {len(logs):>5} logs  {t_grep:7.3f} s")
    print(f"  peer: sqlite3 CLI raw query     {t_sql:7.3f} s")
    print(f"  ratios: grep/ours = {t_grep / t_cli:.1f}x, ours/sqlite3 = {t_cli / t_sql:.1f}x")
    return t_cli


def bench_report(big: Path, root: Path, repeat: int) -> float:
    """``archiver report`` (CLI, in-process, --html, no catalog) against the sqlite3 CLI."""
    bags = sorted(p.name for p in big.glob(f"{NAME}-*"))
    sql = (
        "WITH a AS MATERIALIZED (SELECT url, payload_sha256 p, status s FROM captures "
        "WHERE run_id = "
        f"(SELECT run_id FROM runs WHERE bag = '{bags[-1]}')), "
        "b AS MATERIALIZED (SELECT url, payload_sha256 p, status s FROM captures "
        "WHERE run_id = "
        f"(SELECT run_id FROM runs WHERE bag = '{bags[-2]}')) "
        "SELECT a.url, a.p IS b.p, a.s, b.s FROM a LEFT JOIN b USING (url)"
    )
    report = archiver("report", NAME, "--out", str(big))
    t_cli, rss, out = best_cli(repeat, report, ok=(0, 4))
    t_in, _ = best(repeat, lambda: in_process_report(big))
    t_html, rss_html, _ = best_cli(repeat, [*report, "--html", str(root / "r.html")], ok=(0, 4))
    no_cat = dict(os.environ, ARCHIVER_CATALOG=str(root / "no-such-catalog.sqlite"))
    t_nocat, rss_nocat, _, _ = cli(report, env=no_cat, ok=(0, 4))
    t_sql, _, _ = best_cli(repeat, ["sqlite3", "-readonly", str(big / "catalog.sqlite"), sql])
    t_all, n_all = best(1, lambda: read_every_log(big))
    print(f"\nreport {NAME}: {out.strip().splitlines()[-1]}")
    print(f"  archiver report (CLI)           {t_cli:7.3f} s  RSS {rss:.0f} MB")
    print(f"  report in-process               {t_in:7.3f} s")
    print(f"  archiver report --html (CLI)    {t_html:7.3f} s  RSS {rss_html:.0f} MB")
    print(f"  archiver report, no catalog     {t_nocat:7.3f} s  RSS {rss_nocat:.0f} MB")
    print(f"  peer: sqlite3 CLI, two runs     {t_sql:7.3f} s")
    print(f"  peer: read every run's log      {t_all:7.3f} s  ({n_all} entries)")
    print(f"  ratios: every-log/ours = {t_all / t_cli:.1f}x, ours/sqlite3 = {t_cli / t_sql:.1f}x")
    return t_cli


def bagit_validate_all(folder: Path) -> int:
    """The peer: bagit-python validating every bag in ``folder`` (fixity and completeness only)."""
    import logging

    import bagit

    logging.disable(logging.CRITICAL)
    valid = 0
    for bag in sorted(p for p in folder.glob(f"{NAME}-*") if p.is_dir()):
        with contextlib.suppress(bagit.BagError):
            bagit.Bag(str(bag)).validate()
            valid += 1
    return valid


def bench_audit(big: Path, small: Path, root: Path, runs: int, small_runs: int) -> None:
    """``archiver audit`` of every bag of SMALL and of the daily share (1/7) of BIG, beside
    bagit-python validating the same SMALL bags. The synthetic bags have no WARCs, so every
    audit reports their capture logs' records missing: the time includes reporting that."""
    catalog = root / "audit.sqlite"
    catalog.unlink(missing_ok=True)
    t_all, rss, _, cpu = cli(archiver("audit", str(small), "--catalog", str(catalog)), ok=(0, 1))
    t_share, rss_share, _, _ = cli(
        archiver("audit", str(big), "--share", "1/7", "--catalog", str(catalog)), ok=(0, 1)
    )
    t_bagit, valid = best(1, lambda: bagit_validate_all(small))
    print(f"\naudit: {small_runs} bags, then the daily share 1/7 of {runs}")
    print(
        f"  archiver audit, {small_runs} bags        {t_all:7.3f} s  RSS {rss:.0f} MB "
        f"({t_all / small_runs * 1000:.0f} ms/bag, {cpu:.1f} s cpu)"
    )
    print(f"  archiver audit --share 1/7     {t_share:7.3f} s  RSS {rss_share:.0f} MB")
    print(f"  peer: bagit-python validate, {small_runs} bags {t_bagit:7.3f} s ({valid} valid)")
    print(
        f"  ratio ours/bagit = {t_all / t_bagit:.0f}x (ours also checks every capture-log "
        "entry, the WARCs, the profile and the anchors)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (best is kept)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/archiver-bench-keep"))
    args = parser.parse_args()
    small_runs = max(1, args.runs // 10)
    root = args.dir / f"{args.runs}x{args.urls}"
    big, small = root / "runs", root / f"first-{small_runs}"
    print(f"building {args.runs} runs x {args.urls} URLs in {big} (once) ...", flush=True)
    build(big, args.runs, args.urls)
    link_first(big, small, small_runs)
    size = sum(p.stat().st_size for p in big.glob(f"{NAME}-*/data/capture-log.jsonl"))
    print(f"capture logs: {size / 1e6:.0f} MB; cpus={os.cpu_count()}")
    bench_rebuild(big, small, args.runs, small_runs, args.repeat)
    site = Site(args.urls, args.runs)  # a URL whose text is edited: many digests in its timeline
    url = next(u for u, k in zip(site.urls, site.kind, strict=True) if k == "edits")
    t_history = bench_history(big, url, args.repeat)
    t_report = bench_report(big, root, args.repeat)
    bench_audit(big, small, root, args.runs, small_runs)
    verdict = "ok" if max(t_history, t_report) < 1 else "TOO SLOW"
    print(f"\ntarget < 1 s each: history {t_history:.2f} s, report {t_report:.2f} s: {verdict}")


if __name__ == "__main__":
    main()
