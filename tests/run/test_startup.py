"""What ``archiver run`` loads: the optional heavy libraries only on the paths that use them.

bs4/lxml/soupsieve parse HTML links, rich draws the live display, cryptography and rfc3161
check timestamp tokens and signatures. A run that needs none of them must not pay for importing
them (together about a quarter of a second of CPU on every run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO
from tests.servers import TestServer

HEAVY = {"bs4", "cryptography", "lxml", "rfc3161_client", "rich", "soupsieve"}

# Runs the CLI in this interpreter and, however it exits, writes the modules it loaded.
_RUN = """
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("archiver", run_name="__main__", alter_sys=True)
"""


def _loaded(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVER_TSA", "ARCHIVER_SIGN_KEY")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    modules = set(json.loads(report.read_text()))
    return {m.split(".")[0] for m in modules} | modules, proc


def test_importing_the_cli_and_run_command_loads_no_optional_library() -> None:
    code = "import sys, archiver.cli, archiver.run.command; print(' '.join(sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    loaded = {m.split(".")[0] for m in proc.stdout.split()}
    assert not loaded & HEAVY, f"loaded at startup: {sorted(loaded & HEAVY)}"


def test_a_run_of_a_url_list_loads_them_only_when_used(
    http_server: TestServer, tmp_path: Path
) -> None:
    listing = tmp_path / "cited.txt"
    listing.write_text(http_server.url("/articles/one.html") + "\n")
    run = ["run", str(listing), "--out", str(tmp_path / "out"), "--no-clean", "--delay", "0"]
    loaded, proc = _loaded(tmp_path, *run, "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "out").glob("cited-*/bagit.txt")), "no sealed bag"
    assert not loaded & HEAVY, f"a plain run loaded {sorted(loaded & HEAVY)}"
    # Only a collection run reads a collection.toml (and its time zones).
    assert "archiver.collect.collection" not in loaded
    assert "zoneinfo" not in loaded

    # An HTML source document is parsed, and the live display draws: both load their library.
    page = tmp_path / "page.html"
    page.write_text(f'<html><body><p><a href="{http_server.url("/articles/two.html")}">x</a>')
    run = ["run", str(page), "--out", str(tmp_path / "out2"), "--no-clean", "--delay", "0"]
    loaded, proc = _loaded(tmp_path, *run, "--progress", "live")
    assert proc.returncode == 0, proc.stderr
    assert {"bs4", "rich"} <= loaded
