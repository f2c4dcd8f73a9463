"""`archiver report` on two real runs of a collection whose site changes between them.

The runs are scheduled ones: `archiver run --due` with a fake clock (``ARCHIVER_NOW``) at two
fire times of the collection's weekly schedule, as cron would start them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archiver.keep.compare import is_notice
from tests.helpers import archiver
from tests.keep.clock import fire_time, stamp
from tests.servers import Served, TestServer, closed_port, status_html

_FIRE = fire_time(3, 3, "UTC")  # a Thursday 03:00 UTC weeks from now (tests/keep/clock.py)
RUN1, RUN2 = (f"watch-{stamp(_FIRE + timedelta(weeks=w))}" for w in (0, 1))
HOSTILE = "<script>alert(1)</script>"


def _words(seed: str, n: int) -> str:
    return " ".join(f"{seed}{i}" for i in range(n))


def _page(title: str, body: str, extra: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>"
        '<link rel="stylesheet" href="http://evil.example/x.css"></head><body>'
        f"{extra}<main><article><h1>{title}</h1><p>{body}</p>"
        f"<p>{_words('second', 80)}</p></article></main></body></html>\n"
    ).encode()


def _status(code: int) -> Served:
    body = status_html(code, "Gone")
    return Served(code, (("Content-Type", "text/html"),), body, body)


PATHS = ["/same", "/chrome", "/edit", "/moves", "/vanish404", "/vanish410", "/notice", "/hostile"]


def _first(server: TestServer) -> None:
    site = server.site
    site.add_page("/same", _page("Same", _words("stable", 120)))
    site.add_page("/chrome", _page("Chrome", _words("body", 120), "<!-- build 1 -->"))
    site.add_page("/edit", _page("Edit", "The minister said the detentions were lawful. " * 20))
    site.add_page("/moves", _page("Moves", _words("moving", 120)))
    site.add_page("/elsewhere", _page("Elsewhere", _words("landing", 120)))
    site.add_page("/vanish404", _page("Vanish", _words("v4", 120)))
    site.add_page("/vanish410", _page("Vanish", _words("v10", 120)))
    site.add_page("/notice", _page("Report", _words("evidence", 300)))
    site.add_page("/hostile", _page("Hostile", _words("calm", 120)))


def _second(server: TestServer) -> None:
    site = server.site
    site.add_page("/chrome", _page("Chrome", _words("body", 120), "<!-- build 2 -->"))
    edited = "The minister said the detentions were unlawful. " * 20
    site.add_page("/edit", _page("Edit", edited))
    site.add_redirect("/moves", "/elsewhere", 301)
    site._paths["/vanish404"] = _status(404)
    site._paths["/vanish410"] = _status(410)
    notice = b"<html><body><main><p>This page has been removed for legal reasons.</p></main>"
    site.add_page("/notice", notice)
    hostile = f"&lt;script&gt;alert(1)&lt;/script&gt; {_words('loud', 60)}"
    site.add_page("/hostile", _page(HOSTILE.replace("<", "&lt;"), hostile))


def _run(coll: Path, out: Path, name: str) -> None:
    """The scheduled run that fires at the time ``name`` carries (Thursdays 03:00 UTC)."""
    stamp = name.rsplit("-", 1)[1]
    now = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z"
    env = {**os.environ, "ARCHIVER_NOW": now}
    proc = archiver(
        "run", "--due", str(coll.parent), "--out", str(out), "--delay", "0",
        "--progress", "none", "--read-timeout", "5", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / name / "bagit.txt").is_file(), proc.stderr  # due, and named by its fire time


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("report")
    coll, out = work / "watch", work / "runs"
    coll.mkdir()
    with TestServer() as server:
        urls = {p: server.url(p) for p in PATHS}
        urls["hostile_url"] = server.url("/hostile?x='><script>alert(2)</script>")
        urls["robots"] = server.url("/private/secret.html")
        urls["refused"] = f"http://127.0.0.1:{closed_port()}/down"
        docs = "".join(f'[[document]]\nurl = "{u}"\ntitle = "{k}"\n\n' for k, u in urls.items())
        schedule = 'schedule = "0 3 * * 4"\ntimezone = "UTC"\n'
        (coll / "collection.toml").write_text(
            f'[collection]\nname = "watch"\n{schedule}\n{docs}', "utf-8"
        )
        _first(server)
        _run(coll, out, RUN1)
        first = report(coll, out, "--json")
        _second(server)
        _run(coll, out, RUN2)
    return {"coll": coll, "out": out, "urls": urls, "first": first, "work": work}


def report(coll: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return archiver("report", str(coll), "--out", str(out), *args)


def _classes(proc: subprocess.CompletedProcess[str], urls: dict[str, str]) -> dict[str, str]:
    by_url = {u["url"]: u["class"] for u in json.loads(proc.stdout)["urls"]}
    hostile = [c for url, c in by_url.items() if "alert(2)" in url]  # the URL is normalised
    return {k: by_url[u] if u in by_url else hostile.pop() for k, u in urls.items()}


def test_first_run_is_all_new_and_exits_0(runs: dict[str, Any]) -> None:
    first = runs["first"]
    assert first.returncode == 0, first.stderr
    classes = _classes(first, runs["urls"])
    assert classes.pop("refused") == "unreachable"
    assert classes.pop("robots") == "blocked"
    assert set(classes.values()) == {"new"}


def test_second_run_classifies_each_page(runs: dict[str, Any]) -> None:
    proc = report(runs["coll"], runs["out"], "--json")
    assert proc.returncode == 4, proc.stderr
    assert _classes(proc, runs["urls"]) == {
        "/same": "unchanged",
        "/chrome": "changed-outside-text",
        "/edit": "text-changed",
        "/moves": "moved",
        "/vanish404": "gone",
        "/vanish410": "gone",
        "/notice": "replaced-by-notice",
        "/hostile": "text-changed",
        "hostile_url": "text-changed",
        "refused": "unreachable",
        "robots": "blocked",
    }
    data = json.loads(proc.stdout)
    alarms = {u["url"]: u["alarm"] for u in data["urls"]}
    # dark in both runs: still reported, but not news (no exit 4 for it alone)
    assert not alarms[runs["urls"]["refused"]] and not alarms[runs["urls"]["robots"]]
    assert alarms[runs["urls"]["/vanish404"]] and not alarms[runs["urls"]["/chrome"]]
    edit = next(u for u in data["urls"] if u["url"] == runs["urls"]["/edit"])
    assert edit["before"]["run"] == RUN1 and edit["after"]["run"] == RUN2
    assert edit["before"]["payload_sha256"] != edit["after"]["payload_sha256"]
    assert edit["diff"]["hunks"][0]["removed"] == "lawful."
    assert edit["diff"]["hunks"][0]["added"] == "unlawful."
    assert (runs["out"] / edit["after"]["text"]).is_file()
    # The scheduled run wrote the same report beside its bag when it finished.
    beside = json.loads((runs["out"] / f"{RUN2}.report.json").read_text("utf-8"))
    assert {u["url"]: u["class"] for u in beside["urls"]} == {
        u["url"]: u["class"] for u in data["urls"]
    }


def test_html_is_escaped_and_self_contained(runs: dict[str, Any]) -> None:
    page = runs["work"] / "report.html"
    proc = report(runs["coll"], runs["out"], "--html", str(page))
    assert proc.returncode == 4, proc.stderr
    text = page.read_text("utf-8")
    assert "<script" not in text.lower()
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?\s*(?:https?:)?//", text, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "alert(2)" in text
    links = re.findall(r"href='([^']+)'", text)
    assert links and all((page.parent / link).is_file() for link in links)


def test_text_output_names_changes(runs: dict[str, Any]) -> None:
    proc = report(runs["coll"], runs["out"], "--text")
    assert proc.returncode == 4
    assert re.search(r"^gone\s+" + re.escape(runs["urls"]["/vanish410"]), proc.stdout, re.M)


def test_since_a_run(runs: dict[str, Any]) -> None:
    proc = report(runs["coll"], runs["out"], "--json", "--since", RUN1)
    assert json.loads(proc.stdout)["since"] == RUN1
    assert _classes(proc, runs["urls"])["/same"] == "unchanged"


@pytest.mark.parametrize("since", ["watch-20250101T000000Z", RUN2, "nonsense"])
def test_unknown_run_is_one_line_and_exit_2(runs: dict[str, Any], since: str) -> None:
    proc = report(runs["coll"], runs["out"], "--since", since)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and since in proc.stderr


def test_notice_rule_is_general() -> None:
    article = _words("w", 400).split()
    german = ["Dieser", "Beitrag", "wurde", "entfernt", "."]
    french = [
        "Cette",
        "page",
        "n'est",
        "plus",
        "disponible",
        "pour",
        "des",
        "raisons",
        "juridiques",
    ]
    assert is_notice(article, german) and is_notice(article, french)
    assert is_notice(article, ["Error"])  # nearly empty
    assert not is_notice(article, article[:200])  # half the text: an edit, not a notice
    assert not is_notice(article[:30], german)  # too short before to judge a collapse
    wordy = ("page not found " + _words("x", 200)).split()
    assert not is_notice(article * 3, wordy)  # over the notice length: a rewrite
