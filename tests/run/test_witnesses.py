"""Witnesses for dead links, end to end: `archiver run` against a local site whose URLs 404, fail
DNS or are refused, and a local Memento aggregator / Wayback API / save-now service.

Nothing here contacts a public archive: every endpoint is the local :class:`MementoArchive`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.collect.trust import decide_capture
from tests.helpers import archiver, capture_log
from tests.mementoserver import MementoArchive
from tests.servers import TestServer, closed_port

MEMENTOS = ["20190301080000", "20240501120000"]


def _env(config: Path | None = None) -> dict[str, str]:
    """The test environment with witness lookups allowed (conftest turns them off)."""
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVER_WITNESSES"}
    if config is not None:
        env["ARCHIVER_CONFIG"] = str(config)
    return env


def _collection(root: Path, name: str, urls: dict[str, str], capture: str = "") -> Path:
    coll = root / name
    coll.mkdir()
    body = "".join(f'[[url]]\nurl = "{u}"\nnote = "{k}"\n\n' for k, u in urls.items())
    (coll / "collection.toml").write_text(
        f'[collection]\nname = "{name}"\n\n{body}{capture}', "utf-8"
    )
    return coll


def _run(
    coll: Path, out: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return archiver(
        "run",
        str(coll),
        "--out",
        str(out),
        "--delay",
        "0",
        "--progress",
        "none",
        "--read-timeout",
        "5",
        "--hops",
        "0",
        *args,
        env=env,
    )


def _endpoints(archive: MementoArchive, timemap: str = "/timemap/link/") -> list[str]:
    return [
        "--witness-timemap",
        archive.url(timemap),
        "--witness-availability",
        archive.url("/wayback/available"),
    ]


@pytest.fixture(scope="module")
def archive() -> Any:
    with MementoArchive() as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Any:
    with TestServer() as server:
        yield server


@pytest.fixture(scope="module")
def dead(site: TestServer, archive: MementoArchive) -> dict[str, str]:
    urls = {
        "gone404": site.url("/gone/report.html"),
        "gone410": site.url("/status/410"),
        "dns": "http://no-such-host.invalid/page",
        "refused": f"http://127.0.0.1:{closed_port()}/down",
        "error500": site.url("/status/500"),
        "live": site.url("/articles/one.html"),
    }
    for key in ("gone404", "dns", "refused"):
        archive.add(urls[key], MEMENTOS)
    return urls


@pytest.fixture(scope="module")
def full(
    tmp_path_factory: pytest.TempPathFactory, dead: dict[str, str], archive: MementoArchive
) -> dict[str, Any]:
    """One run with lookups, --fetch-mementos and --save-now, all against the local archive."""
    work = tmp_path_factory.mktemp("witness")
    coll = _collection(work, "dead", dead)
    out = work / "runs"
    archive.stats.reset()
    proc = _run(
        coll,
        out,
        *_endpoints(archive),
        "--fetch-mementos",
        "--save-now",
        "--save-now-endpoint",
        archive.url("/save/"),
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    bag = Path(proc.stdout.strip().splitlines()[-1])
    entries = capture_log(bag)
    return {
        "bag": bag,
        "out": out,
        "coll": coll,
        "entries": entries,
        "by_url": {e["url"]: e for e in entries},
        "asked": list(archive.stats.paths()),
    }


def test_dead_urls_get_third_party_witnesses(full: dict[str, Any], dead: dict[str, str]) -> None:
    for key in ("gone404", "dns", "refused"):
        entry = full["by_url"][dead[key]]
        assert entry["outcome"] in ("http-error", "failed")
        timemap, available = entry["witnesses"]
        assert timemap["service"] == "timemap" and timemap["status"] == 200
        assert timemap["error"] is None and timemap["count"] == 2
        assert {m["rel"]: m["datetime"] for m in timemap["mementos"]} == {
            "first": "2019-03-01T08:00:00Z",
            "last": "2024-05-01T12:00:00Z",
        }  # the closest to the failure is the last: kept once
        assert timemap["request_url"].endswith("/timemap/link/" + dead[key])
        assert available["service"] == "wayback-available" and available["error"] is None
        (closest,) = available["mementos"]
        assert closest["rel"] == "closest" and closest["datetime"] == "2024-05-01T12:00:00Z"
        assert closest["archive"] == "127.0.0.1"
        assert "url=" in available["request_url"] and "timestamp=" in available["request_url"]
        # our own capture facts are untouched by what the archives said
        assert entry["payload_sha256"] is None or entry["status"] == 404


def test_lookup_answers_are_kept_in_the_warc(full: dict[str, Any], dead: dict[str, str]) -> None:
    by_id: dict[str, tuple[str, str | None]] = {}
    for warc in (full["bag"] / "data" / "warcs").glob("*.warc.gz"):
        with open(warc, "rb") as f:
            for rec in ArchiveIterator(f):
                h = rec.rec_headers
                by_id[h.get_header("WARC-Record-ID")] = (
                    rec.rec_type,
                    h.get_header("WARC-Target-URI"),
                )
    for q in full["by_url"][dead["gone404"]]["witnesses"]:
        kinds = {by_id[r["record_id"]] for r in q["records"]}
        assert ("request", q["request_url"]) in kinds
        assert ("response", q["request_url"]) in kinds


def test_no_lookup_for_live_or_5xx(full: dict[str, Any], dead: dict[str, str]) -> None:
    assert "witnesses" not in full["by_url"][dead["error500"]]
    assert "witnesses" not in full["by_url"][dead["live"]]
    gone410 = full["by_url"][dead["gone410"]]["witnesses"]
    assert gone410[0]["status"] == 404 and gone410[0]["count"] == 0  # the archive knows none
    assert gone410[0]["error"] is None and gone410[1]["mementos"] == []


def test_fetch_mementos_captures_a_labelled_copy(
    full: dict[str, Any], dead: dict[str, str]
) -> None:
    mementos = [e for e in full["entries"] if "memento_of" in e]
    assert {m["memento_of"]["original_url"] for m in mementos} == {
        dead["gone404"],
        dead["dns"],
        dead["refused"],
    }
    m = next(e for e in mementos if e["memento_of"]["original_url"] == dead["gone404"])
    assert m["url"].endswith(f"/web/{MEMENTOS[-1]}/{dead['gone404']}")
    assert m["outcome"] == "captured" and m["status"] == 200
    assert m["memento_of"]["memento_datetime"] == "2024-05-01T12:00:00Z"
    assert m["memento_of"]["archive"] == "127.0.0.1"
    assert m["citations"] == [] and m["text"]["path"].startswith("text/")
    # the URL's own entry still says it is gone: the memento is never our capture of it
    assert full["by_url"][dead["gone404"]]["status"] == 404
    catalog = str(full["out"] / "catalog.sqlite")
    history = archiver("history", "--json", "--catalog", catalog, dead["gone404"])
    (only,) = json.loads(history.stdout)["captures"]
    assert only["status"] == 404 and only["url"] == dead["gone404"]


def test_save_now_only_for_live_urls_and_recorded(
    full: dict[str, Any], dead: dict[str, str]
) -> None:
    saves = [p for p in full["asked"] if p.startswith("/save/")]
    assert saves == ["/save/" + dead["live"]]
    (submitted,) = full["by_url"][dead["live"]]["save_now"]
    assert submitted["service"] == "save-now" and submitted["status"] == 200
    assert submitted["error"] is None and submitted["records"]
    assert all("save_now" not in e for e in full["entries"] if e["url"] != dead["live"])


def test_verify_accepts_the_bag(full: dict[str, Any]) -> None:
    proc = archiver("verify", str(full["bag"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unlisted" not in proc.stdout + proc.stderr


def test_report_shows_witnesses_as_third_party(full: dict[str, Any], dead: dict[str, str]) -> None:
    html_file = full["out"] / "report.html"
    proc = archiver(
        "report", str(full["coll"]), "--out", str(full["out"]), "--json", "--html", str(html_file)
    )
    data = json.loads(proc.stdout)
    by_url = {u["url"]: u for u in data["urls"]}
    assert not any("/web/" in u for u in by_url)  # captured mementos are not URLs of ours
    gone = by_url[dead["gone404"]]
    assert gone["class"] == "gone"
    third = gone["third_party"]
    assert "not our captures" in third["label"]
    assert third["lookups"][0]["mementos"][0]["datetime"] == "2019-03-01T08:00:00Z"
    (captured,) = third["captured_mementos"]
    assert captured["memento_url"].endswith(f"/web/{MEMENTOS[-1]}/{dead['gone404']}")
    assert by_url[dead["live"]]["third_party"] is None
    page = html_file.read_text("utf-8")
    assert "Third-party witnesses" in page and "2024-05-01T12:00:00Z" in page
    text = archiver("report", str(full["coll"]), "--out", str(full["out"])).stdout
    assert "third-party witness (first): 127.0.0.1 2019-03-01T08:00:00Z" in text
    assert "memento captured (their copy, our capture)" in text


def test_no_witnesses_sends_nothing(
    tmp_path: Path, dead: dict[str, str], archive: MementoArchive
) -> None:
    coll = _collection(tmp_path, "quiet", dead)
    archive.stats.reset()
    proc = _run(coll, tmp_path / "runs", *_endpoints(archive), "--no-witnesses", env=_env())
    assert proc.returncode == 0, proc.stderr
    assert archive.stats.paths() == []  # no lookup, and no save-now without --save-now
    entries = capture_log(Path(proc.stdout.strip().splitlines()[-1]))
    assert not any("witnesses" in e or "memento_of" in e or "save_now" in e for e in entries)


def test_bad_answers_are_bounded_lookup_failures(
    tmp_path: Path, dead: dict[str, str], archive: MementoArchive
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('witness_max_size = "100KB"\nwitness_max_time = 1.0\n', "utf-8")
    archive.slow = 3.0
    coll = _collection(tmp_path, "bad", {"gone404": dead["gone404"]})
    args = []
    for prefix in ("/bad/timemap/", "/huge/timemap/", "/slow/timemap/"):
        args += ["--witness-timemap", archive.url(prefix)]
    proc = _run(coll, tmp_path / "runs", *args, "--witness-availability", "", env=_env(config))
    assert proc.returncode == 0, proc.stderr
    (entry,) = capture_log(Path(proc.stdout.strip().splitlines()[-1]))
    bad, huge, slow = entry["witnesses"]
    assert bad["status"] == 200 and bad["error"]["class"] == "malformed"
    assert huge["status"] == 200 and huge["error"]["class"] == "too-large"
    assert slow["status"] is None and slow["error"]["class"] == "timeout"
    assert all(q["mementos"] == [] for q in (bad, huge, slow))
    assert entry["status"] == 404  # the URL's own outcome is unchanged


def test_a_collection_cannot_add_endpoints_without_consent() -> None:
    asked = {
        "witness_timemaps": "http://collector.example/timemap/",
        "save_now": True,
        "fetch_mementos": True,
        "witnesses": False,
    }
    decision = decide_capture(asked, trusted=False)
    assert sorted(decision.ignored_trust) == ["fetch_mementos", "save_now", "witness_timemaps"]
    assert decision.applied == {"witnesses": False}  # fewer third-party lookups: always allowed


def test_provenance_summary_labels_third_parties(full: dict[str, Any]) -> None:
    summary = (full["bag"] / "data" / "provenance-summary.txt").read_text("utf-8")
    assert "Third-party witnesses (not our capture)" in summary
    assert "Memento of (another archive's copy, captured by us)" in summary
    assert "Save-now (not our capture)" in summary


def test_lookups_obey_the_address_policy(
    tmp_path: Path, dead: dict[str, str], archive: MementoArchive
) -> None:
    """Without --allow-private, an aggregator on a private address is refused, and recorded."""
    env = {k: v for k, v in _env().items() if k != "ARCHIVER_ALLOW_PRIVATE"}
    coll = _collection(tmp_path, "policy", {"dns": dead["dns"]})
    archive.stats.reset()
    proc = _run(coll, tmp_path / "runs", *_endpoints(archive), env=env)
    assert proc.returncode == 0, proc.stderr
    (entry,) = capture_log(Path(proc.stdout.strip().splitlines()[-1]))
    assert [q["error"]["class"] for q in entry["witnesses"]] == ["private-address"] * 2
    assert archive.stats.paths() == []


def test_lookups_stop_at_the_runs_limit_and_say_so(
    tmp_path: Path, dead: dict[str, str], archive: MementoArchive
) -> None:
    """A site gone dark must not turn into unbounded lookups: past ``witness_limit`` dead URLs,
    each query is recorded as not asked, and the archive hears nothing more."""
    config = tmp_path / "settings.toml"
    config.write_text("witness_limit = 2\n", "utf-8")
    config.chmod(0o600)
    coll = _collection(tmp_path, "limited", dead)
    archive.stats.reset()
    proc = _run(coll, tmp_path / "runs", *_endpoints(archive), "--concurrency", "1",
                env=_env(config))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    entries = capture_log(Path(proc.stdout.strip().splitlines()[-1]))
    looked = [e for e in entries if "witnesses" in e]
    assert len(looked) == 4  # 404, 410, DNS, refused: all dead, all get a witnesses list
    asked = [e for e in looked if all(q["error"] is None for q in e["witnesses"])]
    limited = [e for e in looked if e not in asked]
    assert len(asked) == 2 and len(limited) == 2
    for entry in limited:
        for query in entry["witnesses"]:
            assert query["status"] is None and query["records"] == [] and query["mementos"] == []
            assert query["error"]["class"] == "lookup-limit"
            assert "witness_limit" in query["error"]["message"]
    assert len(archive.stats.paths()) == 2 * 2  # two endpoints, two URLs, nothing more
    verified = archiver("verify", proc.stdout.strip().splitlines()[-1])
    assert verified.returncode == 0, verified.stdout
