"""The command line contract: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archiver import __version__
from tests.helpers import archiver


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, mentions: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("archiver: ")
    assert mentions in lines[0]


def test_version() -> None:
    proc = archiver("--version")
    assert proc.returncode == 0
    assert __version__ in proc.stdout


@pytest.mark.parametrize("verb", ["run", "urls", "verify", "clean"])
def test_verbs_have_help(verb: str) -> None:
    proc = archiver(verb, "--help")
    assert proc.returncode == 0
    assert verb in proc.stdout


def test_run_missing_source(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-collection"
    proc = archiver("run", str(missing), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, 2, str(missing))


def test_run_output_not_writable(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be\n")
    proc = archiver("run", str(doc), "--out", str(blocker))
    assert_one_line_error(proc, 3, str(blocker))


def test_run_document_without_urls(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("no links here\n", encoding="utf-8")
    proc = archiver("run", str(doc), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, 2, "no http(s) URLs")


def test_ignore_robots_needs_a_reason(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    proc = archiver("run", str(doc), "--out", str(tmp_path / "out"), "--ignore-robots", " ")
    assert_one_line_error(proc, 2, "reason")


def test_verify_missing_bag(tmp_path: Path) -> None:
    proc = archiver("verify", str(tmp_path / "nope"))
    assert_one_line_error(proc, 2, "no such bag")


def test_verify_not_a_bag(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    proc = archiver("verify", str(tmp_path / "folder"))
    assert_one_line_error(proc, 2, "not a BagIt bag")


def test_urls_missing_document(tmp_path: Path) -> None:
    proc = archiver("urls", str(tmp_path / "missing.txt"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "missing.txt" in proc.stderr


def test_internal_error_is_one_line_not_exit_1(tmp_path: Path) -> None:
    # A bag whose data/ is a file makes the validator trip over an unexpected state; whatever
    # happens inside, verify must never report "invalid" (1) for its own failure.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, archiver.verify as v\n"
            "def boom(*a, **k): raise RuntimeError('simulated bug')\n"
            "v.verify_bag = boom\n"
            "from archiver.cli import main\n"
            "sys.exit(main(['verify', sys.argv[1]]))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "internal error: RuntimeError: simulated bug" in proc.stderr


@pytest.mark.parametrize(
    ("option", "value", "mentions"),
    [
        ("--max-size", "-1", "--max-size"),
        ("--hops", "-1", "--hops"),
        ("--delay", "-5", "--delay"),
        ("--concurrency", "0", "--concurrency"),
        ("--proxy", "notaproxy", "--proxy"),
        ("--name", "../escaped", "--name"),
        ("--name", ".hidden", "--name"),
    ],
)
def test_run_refuses_out_of_range_options(
    tmp_path: Path, option: str, value: str, mentions: str
) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    proc = archiver("run", str(doc), "--out", str(tmp_path / "out"), option, value)
    assert_one_line_error(proc, 2, mentions)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / ".escaped.partial").exists()


def test_any_toml_source_is_read_as_a_collection(tmp_path: Path) -> None:
    broken = tmp_path / "my-collection.toml"
    broken.write_text("[collection\nname =", encoding="utf-8")
    proc = archiver("run", str(broken), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, 2, "invalid TOML")


def test_clean_reports_unreadable_warcs_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(b"not a warc\n")
    proc = archiver("clean", str(bad), "--out", str(tmp_path / "texts"))
    assert proc.returncode == 2
    assert "not a readable WARC" in proc.stderr and "not a readable WARC" not in proc.stdout
    assert "Traceback" not in proc.stderr
