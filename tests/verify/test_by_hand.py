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
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.attest.keys import new_key_pair
from archiver.attest.signing import sign_bag
from archiver.attest.timestamp import timestamp_bag
from archiver.bag.validate import validate_bag
from archiver.verify.provenance import verify_provenance
from tests.helpers import REPO
from tests.tsa import build_bag, openssl_env, start_tsa

DOC = REPO / "docs" / "verify-by-hand.md"
BLOCK = re.compile(r"<!-- check: ([a-z-]+) -->\s*```sh\n(.*?)```", re.S)
CHECKS = dict(BLOCK.findall(DOC.read_text("utf-8")))


def test_doc_has_every_check() -> None:
    assert set(CHECKS) == {"bagit", "manifests", "timestamps", "signature", "custody"}


@dataclass(frozen=True)
class Trust:
    """What a verifier obtained independently of the bag: the TSAs' roots, the signer's key."""

    roots_dir: Path  # <tsa>.roots.pem, for the by-hand ROOTS
    roots: list[Path]  # for archiver's --tsa-root
    public_key: Path
    key_id: str


@pytest.fixture(autouse=True)
def no_configured_tsas(monkeypatch: pytest.MonkeyPatch) -> None:
    """ARCHIVER_TSA roots are trusted by verify: keep the caller's environment out of it."""
    monkeypatch.delenv("ARCHIVER_TSA", raising=False)


@pytest.fixture(scope="module")
def trust(sealed: Path) -> Trust:
    base = sealed.parent.parent
    roots_dir = base / "independent-roots"
    roots_dir.mkdir(exist_ok=True)
    for tsa in ("alpha", "beta"):
        shutil.copy(base / tsa / "ca.crt", roots_dir / f"{tsa}.roots.pem")
    key_id = (sealed / "provenance-anchors" / "signer-key-id.txt").read_text().strip()
    roots = [base / "alpha" / "ca.crt", base / "beta" / "ca.crt"]
    return Trust(roots_dir, roots, base / "keys" / "org.pub.pem", key_id)


def ours(bag: Path, trust: Trust) -> list[str]:
    """archiver's own problem codes for ``bag``, given the independently obtained trust."""
    report = verify_provenance(bag, extra_roots=trust.roots, trusted_keys=[trust.public_key])
    return sorted(p.code for p in report.problems)


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


def run_check(name: str, bag: Path, trust: Trust) -> subprocess.CompletedProcess[str]:
    env = {**openssl_env(), "ROOTS": str(trust.roots_dir), "KEY_ID": trust.key_id}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CHECKS[name]],
        cwd=bag,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def tampered_copy(bag: Path, tmp_path: Path) -> Path:
    """Copy the bag *and* its custody log, as a recipient would get them."""
    out = Path(shutil.copytree(bag.parent, tmp_path / "copy"))
    return out / bag.name


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_passes_on_the_real_bag(name: str, sealed: Path, trust: Trust) -> None:
    proc = run_check(name, sealed, trust)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if name == "timestamps":
        # 2 tag manifests x 2 TSAs x 2 rounds + signature x 2 TSAs
        assert proc.stdout.count("Verification: OK") == 10


def test_our_verifier_agrees_on_the_real_bag(sealed: Path, trust: Trust) -> None:
    assert validate_bag(sealed).errors == []
    assert ours(sealed, trust) == []
    assert len(verify_provenance(sealed).token_checks) == 10


def failing(bag: Path, trust: Trust) -> set[str]:
    return {name for name in CHECKS if run_check(name, bag, trust).returncode != 0}


def test_checks_refuse_to_run_without_independent_trust(sealed: Path, trust: Trust) -> None:
    """Roots and key stored in the bag are not a default: the forger controls them."""
    for name, variable in [("timestamps", "ROOTS"), ("signature", "KEY_ID")]:
        env = {k: v for k, v in openssl_env().items() if k not in ("ROOTS", "KEY_ID")}
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", CHECKS[name]],
            cwd=sealed,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode != 0 and variable in proc.stderr, proc.stderr


def test_key_other_than_the_published_one_fails(sealed: Path, trust: Trust) -> None:
    forged = Trust(trust.roots_dir, trust.roots, trust.public_key, "ed25519:0000000000000000")
    proc = run_check("signature", sealed, forged)
    assert proc.returncode != 0 and "not by ed25519:0000000000000000" in proc.stdout


def test_flipped_payload_byte(sealed: Path, trust: Trust, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    warc = bag / "data" / "warcs" / "x.warc.gz"
    data = bytearray(warc.read_bytes())
    data[1000] ^= 0x01
    warc.write_bytes(bytes(data))
    assert failing(bag, trust) == {"bagit", "manifests"}
    assert "data/warcs/x.warc.gz" in {p.path for p in validate_bag(bag).errors}


def test_edited_tag_manifest(sealed: Path, trust: Trust, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    tm = bag / "tagmanifest-sha256.txt"
    lines = tm.read_text().splitlines(keepends=True)
    lines[0] = ("0" * 64) + lines[0][64:]
    tm.write_text("".join(lines))
    assert failing(bag, trust) == {"bagit", "manifests", "timestamps", "signature"}
    assert {"timestamp-imprint-mismatch", "signature-tagmanifest-mismatch"} <= set(ours(bag, trust))


def test_edited_statement(sealed: Path, trust: Trust, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    st = bag / "provenance-anchors" / "bag-statement.json"
    st.write_bytes(st.read_bytes().replace(b"Example Rights Watch", b"Example Wrongs Watch"))
    assert failing(bag, trust) == {"signature"}
    assert ours(bag, trust) == ["signature-invalid"]


def test_edited_custody_event(sealed: Path, trust: Trust, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    log = bag.parent / "custody-log.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"event":"signed"', b'"event":"sealed"', 1))
    assert failing(bag, trust) == {"custody"}
    assert set(ours(bag, trust)) == {"custody-log-differs", "custody-log-chain-broken"}


def test_home_made_tsa_passes_only_with_the_roots_it_brought(trust: Trust, tmp_path: Path) -> None:
    """A bag stamped by a forger's TSA verifies against its own stored root, never against ROOTS."""
    mallory = start_tsa(tmp_path / "mallory", "ec", "alpha")
    try:
        bag = build_bag(tmp_path / "out")
        timestamp_bag(bag, [mallory.config])
    finally:
        mallory.stop()
    assert run_check("timestamps", bag, trust).returncode != 0
    stored = Trust(bag / "provenance-anchors" / "tsa-chains", [], trust.public_key, trust.key_id)
    assert run_check("timestamps", bag, stored).returncode == 0
    assert "timestamp-root-unverified" in ours(bag, trust)


def test_deleted_token_recorded_in_custody(sealed: Path, trust: Trust, tmp_path: Path) -> None:
    bag = tampered_copy(sealed, tmp_path)
    token = sorted((bag / "provenance-anchors").glob("tagmanifest-sha256.txt.beta.*.tsr"))[0]
    token.unlink()
    assert failing(bag, trust) == {"custody"}
    assert ours(bag, trust) == ["timestamp-missing"]  # once, though the custody copy names it too
