"""Plain progress lines for logs and schedulers, and an honest summary."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest

from archiver.capture.log import CaptureEntry, FetchFailure, brief
from archiver.run.progress import LogTee, RunProgress, human_bytes
from tests.helpers import DATA


def test_plain_lines_and_summary() -> None:
    out = io.StringIO()
    p = RunProgress(3, "auto", stream=out)  # StringIO is not a terminal -> plain
    assert p.mode == "plain"
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200, "payload_size": 1500})
    p.url_done({"url": "https://b/", "outcome": "failed", "error": {"class": "dns"}})
    p.url_done(
        {
            "url": "https://c/",
            "outcome": "http-error",
            "status": 404,
            "error": {"class": "http-4xx"},
            "payload_size": 10,
        }
    )
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[1/3] captured") and lines[0].endswith("https://a/")
    assert "dns" in lines[1]
    summary = p.summary_lines()
    assert summary[0].startswith("3 URLs in ")
    assert "1 captured, 1 HTTP error, 1 failed, 0 blocked" in summary[0]
    assert "1.5 KB" in summary[0]
    assert sorted(s.split()[-1] for s in summary[1:]) == ["dns", "http-4xx"]


def test_none_mode_is_silent() -> None:
    out = io.StringIO()
    p = RunProgress(1, "none", stream=out)
    p.url_done({"url": "https://a/", "outcome": "captured"})
    assert out.getvalue() == ""


def test_human_bytes() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_500_000) == "1.5 MB"
    assert human_bytes(3_000_000_000) == "3.0 GB"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_mode_on_a_terminal_draws_and_summarises() -> None:
    out = _Terminal()
    p = RunProgress(2, "auto", stream=out)
    assert p.mode == "live"
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200})
    p.add_total(1)
    p.url_done({"url": "https://b/", "outcome": "failed", "error": {"class": "timeout"}})
    p.close()
    drawn = out.getvalue()
    assert "capturing" in drawn and "2/3" in drawn
    assert "1 captured, 0 HTTP errors, 1 failed, 0 blocked" in drawn


def test_truncated_capture_is_not_shown_as_a_plain_success() -> None:
    out = io.StringIO()
    p = RunProgress(1, "plain", stream=out)
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200, "truncated": "length"})
    assert "200 (truncated: length)" in out.getvalue()


def test_live_display_and_summary_use_one_vocabulary() -> None:
    """A 404 is an "HTTP error" on the live bar, as in the summary, never "failed"."""
    out = _Terminal()
    p = RunProgress(1, "live", stream=out)
    p.url_done({"url": "https://a/", "outcome": "http-error", "status": 404})
    p.close()
    drawn = out.getvalue()
    assert "0 captured, 1 HTTP error, 0 failed, 0 blocked" in drawn
    assert "0 captured, 1 HTTP error, 0 failed, 0 blocked" in p.summary_lines()[0]


def test_no_color_means_no_colour_or_style_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """https://no-color.org/: the live display keeps moving, without SGR colour/style codes."""
    monkeypatch.setenv("NO_COLOR", "1")
    out = _Terminal()
    p = RunProgress(2, "live", stream=out)
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200})
    p.close()
    drawn = out.getvalue()
    assert "capturing" in drawn and "1/2" in drawn
    assert re.findall(r"\x1b\[[0-9;]*[1-9][0-9;]*m", drawn) == []  # no colour, bold, dim, ...


def test_log_tee_timestamps_lines_and_gets_progress_in_live_mode() -> None:
    screen, log = _Terminal(), io.StringIO()
    tee = LogTee(screen, log)
    p = RunProgress(1, "auto", stream=tee)  # type: ignore[arg-type]
    assert p.mode == "live" and p.stream is screen  # the display never goes to the log
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200})
    p.close()
    tee.write("archiver: a warning\n")
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[1/1\] captured +200 +https://a/$", lines[0])
    assert lines[1].endswith(" archiver: a warning")
    assert "\x1b" not in log.getvalue()


def test_quiet_shows_no_progress_and_no_summary() -> None:
    screen = _Terminal()
    p = RunProgress(1, "auto", stream=LogTee(screen, None, quiet=True))  # type: ignore[arg-type]
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200})
    p.close()
    assert screen.getvalue() == "" and p.summary_lines() == []


def test_progress_from_an_entrys_fields_is_that_from_its_json() -> None:
    """url_done is given only the fields it reads (``brief``): the lines and counts are the same."""
    lines = (DATA / "capture-log" / "v1.jsonl").read_bytes().splitlines()
    entries = [CaptureEntry.from_json(json.loads(line)) for line in lines]
    entries.append(dataclasses.replace(entries[0], truncated="length", payload_size=None))
    failure = FetchFailure("timeout", "slow", "2026-01-01T00:00:00Z")
    entries.append(dataclasses.replace(entries[-1], outcome="failed", status=None, error=failure))
    outs = []
    for fields in (CaptureEntry.to_json, brief):
        out = io.StringIO()
        p = RunProgress(len(entries), "plain", stream=out)
        for entry in entries:
            p.url_done(fields(entry))
        outs.append((out.getvalue(), p.outcomes, p.failures, p.bytes, p.summary_lines()[1:]))
    assert outs[0] == outs[1]
    assert len(outs[0][0].splitlines()) == len(entries) and outs[0][2]
