"""The keep benchmark (bench/keep/run.py) runs at a tiny size, so it cannot rot unseen, and its
synthetic runs show that a report reads only the runs it compares.

No timing is asserted here (timings live in bench/README.md); only that every step ran and the
synthetic runs give the answers the generator built into them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archiver.keep import runs as keep_runs
from archiver.keep.catalog import rebuild
from archiver.keep.report import report_command
from tests.helpers import REPO, archiver


@pytest.mark.timeout(300)
def test_keep_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ARCHIVER_CATALOG", None)
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/keep/run.py"), "--runs", "20", "--urls", "60"]
        + ["--repeat", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in ("rebuild    20 runs", "growth 2 -> 20 runs", "archiver history (CLI)", "grep -h"):
        assert step in proc.stdout, proc.stdout
    for step in ("archiver report (CLI)", "no catalog", "sqlite3 CLI, two runs", "target < 1 s"):
        assert step in proc.stdout, proc.stdout
    for step in ("archiver audit, 2 bags", "audit --share 1/7", "bagit-python validate, 2 bags"):
        assert step in proc.stdout, proc.stdout

    # The synthetic runs are read like real ones: the catalog holds every run, and the report
    # (with the catalog shortcut or without it) sees the changes the generator made.
    runs = tmp_path / "20x60" / "runs"
    bags = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(bags) == 20
    url = json.loads((bags[0] / "data" / "capture-log.jsonl").read_text().splitlines()[0])["url"]
    hist = archiver("history", url, "--json", "--catalog", str(runs / "catalog.sqlite"))
    assert hist.returncode == 0 and len(json.loads(hist.stdout)["captures"]) >= 1
    with_catalog = archiver("report", "watch", "--out", str(runs), "--json")
    no_catalog = archiver(
        "report",
        "watch",
        "--out",
        str(runs),
        "--json",
        env={**env, "ARCHIVER_CATALOG": str(tmp_path / "none.sqlite")},
    )
    assert with_catalog.returncode in (0, 4), with_catalog.stderr
    assert with_catalog.stdout == no_catalog.stdout
    counts = json.loads(with_catalog.stdout)["counts"]
    assert counts["new"] >= 1 and counts["unchanged"] >= 1


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("keep_bench", REPO / "bench/keep/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_reads_only_the_runs_it_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the catalog, a report on 30 runs parses the two it compares and the few bags the
    catalog names for URLs missing from the previous run; never every run's log."""
    monkeypatch.delenv("ARCHIVER_CATALOG", raising=False)
    runs = tmp_path / "runs"
    _bench_module().build(runs, 30, 80)
    rebuild(runs, runs / "catalog.sqlite")
    bags = sorted(p for p in runs.iterdir() if p.is_dir())
    read: list[str] = []
    real = keep_runs.read_entries

    def counting(path: Path) -> Any:
        read.append(path.parent.parent.name)
        return real(path)

    monkeypatch.setattr(keep_runs, "read_entries", counting)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        report_command("watch", runs, as_json=True)
    assert read[:2] == [bags[-1].name, bags[-2].name]
    assert len(read) == len(set(read)) and len(read) < 10, read  # each log parsed once at most
    report = json.loads(out.getvalue())
    assert report["counts"]["new"] >= 1  # URLs the catalog says were never captured before
    reappearing = [u for u in report["urls"] if u["before"] and u["before"]["run"] != bags[-2].name]
    assert {u["before"]["run"] for u in reappearing} <= set(read[2:])
