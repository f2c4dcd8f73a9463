"""A scheduled run killed with SIGKILL mid-capture is finished by the next ``run --due``, once.

The killed process leaves its lock file, its run state and a half-written journal behind. The
next ``--due`` must not be blocked by that lock (a dead process holds no lock), must resume the
same run into the same bag instead of starting a second one, must ask the server only for what
was not captured yet, and a third ``--due`` must find nothing due.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import archiver, capture_log
from tests.keep.clock import fire_time, iso, stamp
from tests.servers import TestServer

_FIRE = fire_time(0, 3, "Europe/Berlin")  # Monday 03:00 Berlin, weeks from now
MONDAY = iso(_FIRE + timedelta(hours=1))  # after that fire time
LATER = iso(_FIRE + timedelta(hours=3))  # the same week: no new fire time since MONDAY
PATHS = ["/articles/one.html", "/articles/two.html", "/articles/three.html"]
BAG = f"weekly-{stamp(_FIRE + timedelta(hours=1))}"


def _due(root: Path, now: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVER_FAULT"}
    env["ARCHIVER_NOW"] = now
    if fault:
        env["ARCHIVER_FAULT"] = fault
    args = ("run", "--due", str(root / "c"), "--out", str(root / "o"), "--delay", "0")
    return archiver(*args, "--concurrency", "1", "--progress", "none", env=env)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", ["run.url-journaled:1", "warc.mid-record:3"])
def test_killed_due_run_is_finished_by_the_next_due_and_not_run_twice(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
    point: str,
) -> None:
    server: TestServer = make_server()
    folder = tmp_path / "c" / "weekly"
    folder.mkdir(parents=True)
    urls = "".join(f'\n[[url]]\nurl = "{server.url(p)}"\n' for p in PATHS)
    (folder / "collection.toml").write_text(
        '[collection]\nname = "weekly"\nschedule = "0 3 * * 1"\ntimezone = "Europe/Berlin"\n'
        + urls,
        "utf-8",
    )
    out = tmp_path / "o"

    killed = _due(tmp_path, MONDAY, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (out / ".due.lock").exists()  # left behind by the dead process
    assert not (out / BAG).exists()
    journal = out / f".{BAG}.capture-log.jsonl"
    done = {
        urlsplit(json.loads(line)["url"]).path
        for line in (journal.read_bytes().split(b"\n")[:-1] if journal.exists() else [])
    }
    server.stats.reset()

    resumed = _due(tmp_path, LATER)
    assert resumed.returncode == 0, resumed.stderr
    assert "another 'archiver run --due' holds" not in resumed.stderr
    assert f"running it into {out / BAG}" in resumed.stderr
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == [BAG]  # the same run finished, no second bag
    asked = [p for p in server.stats.paths() if p != "/robots.txt"]
    assert not set(asked) & done and all(n == 1 for n in Counter(asked).values()), asked
    log = capture_log(out / BAG)
    assert sorted(urlsplit(e["url"]).path for e in log) == sorted(PATHS)
    assert {e["outcome"] for e in log} == {"captured"}
    assert not [p for p in out.iterdir() if p.name.startswith(f".{BAG}")]  # no run state left

    server.stats.reset()
    again = _due(tmp_path, LATER)
    assert again.returncode == 0 and "nothing due" in again.stderr, again.stderr
    assert server.stats.paths() == []
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [BAG]
