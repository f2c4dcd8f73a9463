"""Plain progress lines for logs and schedulers, and an honest summary."""

from __future__ import annotations

import io

from archiver.progress import RunProgress, human_bytes


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
    assert "1 captured, 1 HTTP errors (captured as evidence), 1 failed, 0 blocked" in summary[0]
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
    assert "1 ok, 1 failed" in drawn


def test_truncated_capture_is_not_shown_as_a_plain_success() -> None:
    out = io.StringIO()
    p = RunProgress(1, "plain", stream=out)
    p.url_done({"url": "https://a/", "outcome": "captured", "status": 200, "truncated": "length"})
    assert "200 (truncated: length)" in out.getvalue()
