"""Schedules in the collection: ``archiver run --due`` and ``archiver schedule``, through the real
CLI against a local test server, with the fake clock ``ARCHIVER_NOW`` instead of waiting."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import REPO, archiver
from tests.keep.clock import fire_time, iso, stamp
from tests.servers import TestServer

# A Monday's 03:00 Berlin fire time weeks from now (fixed dates would rot: see tests/keep/clock.py)
_FIRE = fire_time(0, 3, "Europe/Berlin")
_NEXT_FIRE = fire_time(0, 3, "Europe/Berlin", weeks_ahead=4)  # the Monday after
MONDAY = iso(_FIRE + timedelta(hours=1))  # an hour after that fire time
FIRST_BAG = f"weekly-{stamp(_FIRE + timedelta(hours=1))}"
SECOND_BAG = f"weekly-{stamp(_NEXT_FIRE)}"


def _collection(root: Path, name: str, url: str, extra: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "collection.toml").write_text(
        f'[collection]\nname = "{name}"\nschedule = "0 3 * * 1"\n'
        f'timezone = "Europe/Berlin"\n{extra}\n[[url]]\nurl = "{url}"\n',
        "utf-8",
    )
    return folder


def _due(work: Path, now: str, *more: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARCHIVER_NOW": now}
    return archiver(
        "run", "--due", str(work / "c"), "--out", str(work / "o"), "--delay", "0", *more, env=env
    )


def _bags(work: Path) -> list[str]:
    return sorted(p.name for p in (work / "o").iterdir() if not p.name.startswith("."))


def _bag_names(work: Path) -> list[str]:
    return [b for b in _bags(work) if (work / "o" / b).is_dir()]


def test_due_runs_once_per_fire_time(tmp_path: Path, http_server: TestServer) -> None:
    _collection(tmp_path / "c", "weekly", http_server.url("/articles/one.html"))
    first = _due(tmp_path, MONDAY)
    assert first.returncode == 0, first.stderr
    assert _bag_names(tmp_path) == [FIRST_BAG]
    bag = tmp_path / "o" / FIRST_BAG
    assert (bag / "tagmanifest-sha256.txt").is_file()
    # Same fake time again: nothing is due, nothing is written.
    again = _due(tmp_path, MONDAY)
    assert again.returncode == 0
    assert "nothing due" in again.stderr
    assert _bag_names(tmp_path) == [FIRST_BAG]
    # The Sunday before: next Monday's fire time has not come yet.
    assert "nothing due" in _due(tmp_path, iso(_NEXT_FIRE - timedelta(hours=4))).stderr
    # Next Monday 03:00 in Berlin (01:00 or 02:00 UTC): the next fire time, so it runs again.
    later = _due(tmp_path, iso(_NEXT_FIRE))
    assert later.returncode == 0, later.stderr
    assert _bag_names(tmp_path) == [FIRST_BAG, SECOND_BAG]
    # Each scheduled run leaves its change report beside its bag (never inside: it is sealed).
    report = json.loads((tmp_path / "o" / f"{SECOND_BAG}.report.json").read_text())
    assert [u["class"] for u in report["urls"]] == ["unchanged"]
    html = (tmp_path / "o" / f"{SECOND_BAG}.report.html").read_text("utf-8")
    assert "<script" not in html and "unchanged" in html
    assert not list((tmp_path / "o" / SECOND_BAG).rglob("*.report.*"))


def test_second_due_while_locked_exits_0(tmp_path: Path, http_server: TestServer) -> None:
    _collection(tmp_path / "c", "weekly", http_server.url("/articles/one.html"))
    (tmp_path / "o").mkdir()
    with open(tmp_path / "o" / ".due.lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = _due(tmp_path, MONDAY)
    assert second.returncode == 0
    assert "another 'archiver run --due' holds" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert _bag_names(tmp_path) == []  # the holder runs what is due; this one did nothing


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("schedule", "0 3 * *", "is not a cron expression"),
        ("timezone", "Europe/Atlantis", "is not an IANA time zone"),
    ],
)
def test_invalid_schedule_names_file_and_line(
    tmp_path: Path, key: str, value: str, words: str
) -> None:
    folder = tmp_path / "c" / "bad"
    folder.mkdir(parents=True)
    toml = folder / "collection.toml"
    body = '[collection]\nname = "bad"\nschedule = "0 3 * * 1"\n'
    body = body.replace('schedule = "0 3 * * 1"\n', "") + f'{key} = "{value}"\n'
    toml.write_text(body + '\n[[url]]\nurl = "https://example.org/"\n', "utf-8")
    for result in (
        _due(tmp_path, MONDAY),
        archiver("schedule", str(tmp_path / "c"), "--out", str(tmp_path / "o")),
    ):
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(toml) in lines[0] and "line 3" in lines[0] and words in lines[0]
        assert "docs/schedules.md" in lines[0]


def _first_of_month_0630(now: str) -> datetime:
    """When "30 6 1 * *" (UTC) next fires after ``now``."""
    moment = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    this = moment.replace(day=1, hour=6, minute=30, second=0)
    if this > moment:
        return this
    return (this + timedelta(days=32)).replace(day=1)


def test_schedule_listing_and_json(tmp_path: Path, http_server: TestServer) -> None:
    _collection(tmp_path / "c", "weekly", http_server.url("/articles/one.html"))
    _collection(tmp_path / "c", "utc", http_server.url("/status/404"))
    (tmp_path / "c" / "utc" / "collection.toml").write_text(
        '[collection]\nname = "utc"\nschedule = "30 6 1 * *"\n\n[[url]]\n'
        f'url = "{http_server.url("/status/404")}"\n',
        "utf-8",
    )
    assert _due(tmp_path, MONDAY).returncode == 0
    env = {**os.environ, "ARCHIVER_NOW": MONDAY}
    where = (str(tmp_path / "c"), "--out", str(tmp_path / "o"))
    text = archiver("schedule", *where, env=env)
    assert text.returncode == 0, text.stderr
    assert "weekly: schedule 0 3 * * 1 in Europe/Berlin" in text.stdout
    assert "utc: schedule 30 6 1 * * in UTC" in text.stdout
    berlin = _NEXT_FIRE.astimezone(ZoneInfo("Europe/Berlin")).isoformat()
    assert f"next due: {berlin}" in text.stdout  # e.g. 2026-12-07T03:00:00+01:00
    assert f"next due: {_first_of_month_0630(MONDAY).isoformat()}" in text.stdout
    assert "*/15 * * * * " in text.stdout and "run --due" in text.stdout
    assert "OnCalendar=*:0/15" in text.stdout and "Type=oneshot" in text.stdout
    listing = json.loads(archiver("schedule", *where, "--json", env=env).stdout)
    rows = {r["collection"]: r for r in listing["collections"]}
    assert rows["weekly"]["last_run"]["bag"] == FIRST_BAG
    assert rows["weekly"]["last_run"]["outcomes"] == {"captured": 1}
    assert rows["utc"]["last_run"]["outcomes"] == {"http-error": 1}
    assert rows["weekly"]["next_due"] == iso(_NEXT_FIRE)
    assert rows["utc"]["timezone"] == "UTC" and rows["weekly"]["due_now"] is False
    assert listing["crontab"].startswith("*/15 * * * * ")


def test_interrupted_run_is_resumed_first(tmp_path: Path, http_server: TestServer) -> None:
    _collection(tmp_path / "c", "weekly", http_server.url("/articles/one.html"))
    out = tmp_path / "o"
    out.mkdir()
    state = {"name": "weekly-20261123T030000Z", "run_id": "urn:uuid:x", "fingerprint": "f"}
    (out / ".weekly-20261123T030000Z.run.json").write_text(json.dumps(state), "utf-8")
    listing = json.loads(
        archiver("schedule", str(tmp_path / "c"), "--out", str(out), "--json").stdout
    )
    assert listing["collections"][0]["last_run"]["interrupted"] is True
    assert listing["collections"][0]["due_now"] is True


def test_contrib_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here, so the units cannot be verified")
    units = REPO / "contrib" / "systemd"
    for name in ("archiver-due.service", "archiver-due.timer"):
        text = (units / name).read_text("utf-8")
        # ExecStart must name an executable that exists on this machine for verify to pass.
        text = text.replace("/usr/local/bin/archiver", shutil.which("true") or "/bin/true")
        (tmp_path / name).write_text(text, "utf-8")
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / "archiver-due.timer")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
