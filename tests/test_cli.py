"""The command line contract: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archiver import __version__, cli
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
            "import sys, archiver.verify.report as v\n"
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


def _verb_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_a_verb_is_parsed_by_the_same_options_when_only_its_group_is_built() -> None:
    """`archiver VERB ...` builds only VERB's part of the command line: the same help, the
    same errors and the same parse as with every verb built; every verb is in one group."""
    full = _verb_parsers(cli.build_parser())
    groups = [names for names, _ in cli._verbs()]
    assert sorted(v for names in groups for v in names) == sorted(full)
    for names in groups:
        for verb in names:
            only = _verb_parsers(cli.build_parser(verb))
            assert sorted(only) == sorted(names)
            assert only[verb].format_help() == full[verb].format_help()
    run = ["run", "doc.txt", "--out", "x", "--no-clean", "--tsa", "a=b,c.pem", "--delay", "0"]
    assert cli.build_parser("run").parse_args(run) == cli.build_parser().parse_args(run)


def test_an_unknown_verb_is_refused_naming_every_verb() -> None:
    proc = archiver("rn", "doc.txt")
    assert_one_line_error(proc, 2, "invalid choice: 'rn'")
    assert "'run'" in proc.stderr and "'import'" in proc.stderr


# Calls main as a program would (no arguments: sys.argv) or as a library (a list), runs the
# atexit handlers, and says whether the collector was frozen by then.
_FROZEN_AT_EXIT = """
import atexit, gc, sys
from archiver.cli import main
doc = sys.argv.pop(1)
as_program = sys.argv.pop(1) == "program"
sys.argv = ["archiver", "urls", doc]
code = main() if as_program else main(["urls", doc])
atexit._run_exitfuncs()
print(code, gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("how", "frozen"), [("program", "True"), ("library", "False")])
def test_the_program_leaves_its_objects_to_the_os_at_exit(
    tmp_path: Path, how: str, frozen: str
) -> None:
    """Run as a program, archiver skips the interpreter's object-by-object teardown at exit;
    called with arguments (tests, other code) it leaves the caller's interpreter alone."""
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n")
    proc = subprocess.run(
        [sys.executable, "-c", _FROZEN_AT_EXIT, str(doc), how],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == f"0 {frozen}"


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


# --- the command line as a new user meets it -------------------------------------------------


def test_bare_archiver_prints_help_not_an_error() -> None:
    proc = archiver()
    assert proc.returncode == 2  # no verb is a usage error for scripts; people get the help
    assert proc.stdout.startswith("usage: archiver")
    assert "run" in proc.stdout and "verify" in proc.stdout
    assert "error" not in proc.stderr


def test_short_version_flag() -> None:
    proc = archiver("-V")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"archiver {__version__}"


def test_urls_given_a_url_keeps_it_and_says_what_to_do() -> None:
    proc = archiver("urls", "https://example.org/")
    assert_one_line_error(proc, 2, "https://example.org/: ")
    assert "archiver run https://example.org/" in proc.stderr
    assert "https:/example.org" not in proc.stderr.replace("https://", "")


def test_bad_option_value_is_one_line() -> None:
    proc = archiver("run", "x.txt", "--max-size", "10XB")
    assert_one_line_error(proc, 2, "--max-size")
    assert "MiB" in proc.stderr


def dry_run_json(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    proc = archiver("run", str(doc), "--out", str(tmp_path / "out"), "--dry-run", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("given", "size"),
    [("10MB", 10_000_000), ("500 MiB", 500 * 2**20), ("1KiB", 1024), ("1234", 1234)],
)
def test_max_size_accepts_units(tmp_path: Path, given: str, size: int) -> None:
    assert dry_run_json(tmp_path, "--max-size", given)["settings"]["max_size"] == size


def test_parse_size_units() -> None:
    from archiver.base.settings import parse_size

    assert parse_size("10 kb") == 10_000 and parse_size("2GiB") == 2 * 2**30
    assert parse_size("1.5MB") == 1_500_000
    with pytest.raises(ValueError, match="not a size"):
        parse_size("10 bytes please")


def test_dry_run_plans_without_network_or_writing(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    server = make_server()
    doc = tmp_path / "doc.txt"
    url = server.url("/articles/one.html")
    doc.write_text(f"line one\nsee {url}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = archiver("run", str(doc), "--out", str(out), "--dry-run", "--proxy", "http://u:pw@h:1")
    assert proc.returncode == 0, proc.stderr
    assert url in proc.stdout and "sources/doc.txt:2" in proc.stdout  # where it is cited
    assert "max_size = 524288000" in proc.stdout
    assert "pw" not in proc.stdout  # the proxy password is masked
    assert server.stats.requests == [] and server.stats.connections == 0
    assert not out.exists()


def run_doc(tmp_path: Path, server, *args: str, env=None):  # noqa: ANN001, ANN202
    doc = tmp_path / "doc.txt"
    doc.write_text(
        f"see {server.url('/articles/two.html')}\nand {server.url('/status/404')}\n",
        encoding="utf-8",
    )
    return archiver("run", str(doc), "--out", str(tmp_path / "out"), "--delay", "0", *args, env=env)


def test_run_json_summary(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    proc = run_doc(tmp_path, make_server(), "--json", "--progress", "none", "--name", "bag")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["bag"] == str(tmp_path / "out" / "bag") and Path(doc["bag"]).is_dir()
    assert (doc["exit_code"], doc["meaning"], doc["urls"]) == (0, "ok", 2)
    assert doc["outcomes"]["captured"] == 1 and doc["outcomes"]["http-error"] == 1
    assert doc["outcomes"]["failed"] == 0


def test_run_json_when_the_run_cannot_be_done(tmp_path: Path) -> None:
    proc = archiver("run", str(tmp_path / "missing.txt"), "--json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["bag"] is None and doc["exit_code"] == 2 and doc["meaning"] == "bad input"
    assert "missing.txt" in doc["error"]


def test_quiet_prints_only_the_bag_path(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    proc = run_doc(tmp_path, make_server(), "--quiet", "--contact-email", "a@example.org")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_dir() and len(proc.stdout.splitlines()) == 1
    assert "captured" not in proc.stderr and "URLs in" not in proc.stderr
    assert "no TSA configured" in proc.stderr  # warnings still reach the operator


def test_log_file_gets_progress_and_warnings_timestamped_and_appended(
    tmp_path: Path,
    make_server,  # noqa: ANN001
) -> None:
    log = tmp_path / "run.log"
    log.write_text("earlier line\n", encoding="utf-8")
    server = make_server()
    proc = run_doc(tmp_path, server, "--log", str(log), "--progress", "none", "--name", "bag")
    assert proc.returncode == 0, proc.stderr
    lines = log.read_text("utf-8").splitlines()
    assert lines[0] == "earlier line"  # appended, never truncated
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    assert all(re.match(stamp, line) for line in lines[1:]), lines
    text = "\n".join(lines)
    assert re.search(r"\] captured +200 +" + re.escape(server.url("/articles/two.html")), text)
    assert re.search(r"\] http-error +404 ", text)
    assert "no TSA configured" in text  # warnings too
    assert "URLs in" in text  # and the summary
    assert lines[-1].endswith("archiver: run ended with exit code 0 (ok)")


def test_progress_total_grows_with_hop_links(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    server = make_server()
    proc = archiver(
        "run",
        server.url("/articles/one.html"),
        "--out",
        str(tmp_path / "out"),
        "--delay",
        "0",
        "--concurrency",
        "1",
        "--progress",
        "plain",
    )
    assert proc.returncode == 0, proc.stderr
    counters = re.findall(r"^\[(\d+)/(\d+)\]", proc.stderr, re.MULTILINE)
    assert counters[0] == ("1", "1")
    assert [total for _, total in counters[1:]] == ["4"] * 3  # one page + 3 links it cites


def _run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run archiver with stderr on a pseudo-terminal (live display) and return what it drew."""
    import os
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", *args],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    drawn = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        drawn += data
    proc.wait(timeout=60)
    os.close(master)
    return drawn.decode("utf-8", "replace")


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_is_honoured_on_a_terminal(
    tmp_path: Path,
    make_server,  # noqa: ANN001
    no_color: bool,
) -> None:
    import os

    server = make_server()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    if no_color:
        env["NO_COLOR"] = "1"
    drawn = _run_on_a_terminal(
        ["run", server.url("/articles/two.html"), "--hops", "0", "--delay", "0"]
        + ["--out", str(tmp_path / "out"), "--progress", "live"],
        env,
    )
    assert "capturing" in drawn
    styled = re.findall(r"\x1b\[[0-9;]*[1-9][0-9;]*m", drawn)  # colour, bold, dim, ...
    assert (styled == []) is no_color, styled[:5]
