"""docs/verify-by-hand.md works: its commands pass on a real bag and fail on tampered copies.

The commands are taken from the document itself (fenced ``sh`` blocks preceded by a
``<!-- check: NAME -->`` comment) and run with bash, openssl and bagit.py, never with archiver,
against a bag timestamped by two local TSAs (separate RSA and EC roots) and signed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.anchors import verify_provenance
from archiver.bag.validate import validate_bag
from archiver.keys import new_key_pair
from archiver.signing import sign_bag
from archiver.timestamp import timestamp_bag
from tests.tsa import build_bag, openssl_env, start_tsa

DOC = Path(__file__).resolve().parent.parent / "docs" / "verify-by-hand.md"
BLOCK = re.compile(r"<!-- check: ([a-z-]+) -->\s*```sh\n(.*?)```", re.S)
CHECKS = dict(BLOCK.findall(DOC.read_text("utf-8")))


def test_doc_has_every_check() -> None:
    assert set(CHECKS) == {"bagit", "manifests", "timestamps", "signature", "custody"}


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bag in OUT/ with its custody log beside it: sealed, timestamped twice, signed."""
    base = tmp_path_factory.mktemp("by-hand")
    tsas = [start_tsa(base / "alpha", "rsa", "alpha"), start_tsa(base / "beta", "ec", "beta")]
    try:
        out = base / "out"
        bag = build_bag(
            out,
            "evidence-20261120T230102Z",
            files={
                "capture-log.jsonl": b'{"url":"https://example.org/"}\n',
                "warcs/x.warc.gz": bytes(range(256)) * 8,
                "text/page.txt": "Zeugenaussage \u2014 t\u00e9moignage\n".encode(),
            },
        )
        log = out / "custody-log.jsonl"
        configs = [t.config for t in tsas]
        timestamp_bag(bag, configs, custody_log=log)
        pair = new_key_pair(base / "keys", "org")
        sign_bag(bag, pair.private_path, org="Example Rights Watch", tsas=configs, custody_log=log)
        timestamp_bag(bag, configs, custody_log=log)  # a later re-timestamp, same second or not
        yield bag
    finally:
        for t in tsas:
            t.stop()


def run_check(name: str, bag: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CHECKS[name]],
        cwd=bag,
        env=openssl_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def tampered_copy(bag: Path, tmp_path: Path) -> Path:
    """Copy the bag *and* its custody log, as a recipient would get them."""
    out = Path(shutil.copytree(bag.parent, tmp_path / "copy"))
    return out / bag.name


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_passes_on_the_real_bag(name: str, sealed: Path) -> None:
    proc = run_check(name, sealed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if name == "timestamps":
        # 2 tag manifests x 2 TSAs x 2 rounds + signature x 2 TSAs
        assert proc.stdout.count("Verification: OK") == 10


def test_our_verifier_agrees_on_the_real_bag(sealed: Path) -> None:
    assert validate_bag(sealed).errors == []
    report = verify_provenance(sealed)
    assert report.problems == []
    assert len(report.token_checks) == 10


def failing(bag: Path) -> set[str]:
    return {name for name in CHECKS if run_check(name, bag).returncode != 0}


def test_flipped_payload_byte(sealed: Path, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    warc = bag / "data" / "warcs" / "x.warc.gz"
    data = bytearray(warc.read_bytes())
    data[1000] ^= 0x01
    warc.write_bytes(bytes(data))
    assert failing(bag) == {"bagit", "manifests"}
    assert "data/warcs/x.warc.gz" in {p.path for p in validate_bag(bag).errors}


def test_edited_tag_manifest(sealed: Path, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    tm = bag / "tagmanifest-sha256.txt"
    lines = tm.read_text().splitlines(keepends=True)
    lines[0] = ("0" * 64) + lines[0][64:]
    tm.write_text("".join(lines))
    assert failing(bag) == {"bagit", "manifests", "timestamps", "signature"}
    codes = {p.code for p in verify_provenance(bag).problems}
    assert {"timestamp-imprint-mismatch", "signature-tagmanifest-mismatch"} <= codes


def test_edited_statement(sealed: Path, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    st = bag / "provenance-anchors" / "bag-statement.json"
    st.write_bytes(st.read_bytes().replace(b"Example Rights Watch", b"Example Wrongs Watch"))
    assert failing(bag) == {"signature"}
    assert {p.code for p in verify_provenance(bag).problems} == {"signature-invalid"}


def test_edited_custody_event(sealed: Path, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    log = bag.parent / "custody-log.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"event":"signed"', b'"event":"sealed"', 1))
    assert failing(bag) == {"custody"}
    assert {p.code for p in verify_provenance(bag).problems} == {
        "custody-log-differs",
        "custody-log-chain-broken",
    }
