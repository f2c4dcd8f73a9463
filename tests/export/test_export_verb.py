"""One `export` verb for both hand-offs: a repository's bag or a WACZ; mixed options refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.helpers import archiver


def test_wacz_refuses_bag_options_and_a_bag_export_refuses_a_wacz_key(
    sealed_bag: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    wacz = archiver("export", str(sealed_bag), "--format", "wacz", "--profile", "aptrust",
                    "--out", str(out))  # fmt: skip
    assert wacz.returncode == 2
    assert wacz.stderr.count("\n") == 1 and "--profile" in wacz.stderr
    key = archiver("export", str(sealed_bag), "--format", "tar", "--sign-key", "k.pem",
                   "--out", str(out))  # fmt: skip
    assert key.returncode == 2 and "--sign-key" in key.stderr
    assert not out.exists() or not any(out.iterdir())  # nothing written by either


def test_wacz_and_bag_exports_from_the_same_verb(sealed_bag: Path, tmp_path: Path) -> None:
    log = sealed_bag.parent / "custody-log.jsonl"
    wacz = archiver("export", str(sealed_bag), "--format", "wacz", "--out", str(tmp_path))
    assert wacz.returncode == 0, wacz.stderr
    made = Path(wacz.stdout.strip())
    assert made.suffix == ".wacz"
    event = json.loads(log.read_text("utf-8").splitlines()[-1])  # each export is a custody event
    assert event["event"] == "exported" and event["details"]["format"] == "wacz"
    assert event["details"]["archive_sha256"] == hashlib.sha256(made.read_bytes()).hexdigest()
    tar = archiver("export", str(sealed_bag), "--format", "tar", "--out", str(tmp_path))
    assert tar.returncode == 0, tar.stderr
    assert Path(tar.stdout.strip()).name == f"{sealed_bag.name}.tar"
    event = json.loads(log.read_text("utf-8").splitlines()[-1])
    assert event["details"]["format"] == "tar" and event["details"]["profile"] == "ours"
    assert archiver("custody", "check", str(log)).returncode == 0
