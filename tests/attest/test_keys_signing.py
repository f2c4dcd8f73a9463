"""Ed25519 key pairs, the signed bag statement, and what tampering does to it."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from archiver.attest.keys import key_id, keys_new_command, load_private_key, new_key_pair
from archiver.attest.signaturecheck import verify_bag_signatures
from archiver.attest.signing import canonical_json, sign_bag, sign_command
from archiver.attest.timestamp import timestamp_bag
from archiver.attest.tsa import TsaConfig
from archiver.base.errors import ArchiverError
from archiver.verify.provenance import verify_provenance
from tests.helpers import archiver
from tests.tsa import LocalTsa, build_bag, closed_port_url, start_tsa


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LocalTsa]]:
    base = tmp_path_factory.mktemp("tsas")
    started = [start_tsa(base / "alpha", "rsa", "alpha"), start_tsa(base / "beta", "ec", "beta")]
    yield started
    for t in started:
        t.stop()


@pytest.fixture(autouse=True)
def no_configured_tsas(monkeypatch: pytest.MonkeyPatch) -> None:
    """ARCHIVER_TSA roots are trusted by verify: keep the caller's environment out of it."""
    monkeypatch.delenv("ARCHIVER_TSA", raising=False)


def roots(tsas: list[LocalTsa]) -> list[Path]:
    return [t.root for t in tsas]


def codes(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.code for p in problems}


def errors(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.code for p in problems if p.severity == "error"}


def signed_bag(tmp_path: Path, tsas: list[LocalTsa]) -> tuple[Path, Path]:
    pair = new_key_pair(tmp_path / "keys", "org")
    bag = build_bag(tmp_path / "out")
    timestamp_bag(bag, [t.config for t in tsas])
    sign_bag(bag, pair.private_path, org="Test Org", tsas=[t.config for t in tsas])
    return bag, pair.public_path


def test_new_key_pair(tmp_path: Path) -> None:
    pair = new_key_pair(tmp_path / "keys", "org")
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    assert pair.public_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    key = load_private_key(pair.private_path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert (
        pair.key_id == "ed25519:" + hashlib.sha256(raw).hexdigest()[:16] == key_id(key.public_key())
    )
    before = pair.private_path.read_bytes()
    with pytest.raises(ArchiverError, match="never overwritten"):
        new_key_pair(tmp_path / "keys", "org")
    assert pair.private_path.read_bytes() == before


def test_encrypted_key_needs_its_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARCHIVER_KEY_PASSPHRASE", raising=False)
    pair = new_key_pair(tmp_path, "enc", passphrase=b"correct horse")
    assert b"ENCRYPTED" in pair.private_path.read_bytes()
    with pytest.raises(ArchiverError, match="ARCHIVER_KEY_PASSPHRASE"):
        load_private_key(pair.private_path)
    monkeypatch.setenv("ARCHIVER_KEY_PASSPHRASE", "correct horse")
    assert key_id(load_private_key(pair.private_path).public_key()) == pair.key_id


def test_sign_writes_statement_signature_key_and_tokens(
    tmp_path: Path, tsas: list[LocalTsa]
) -> None:
    bag, public = signed_bag(tmp_path, tsas)
    anchors = bag / "provenance-anchors"
    body = (anchors / "bag-statement.json").read_bytes()
    statement = json.loads(body)
    assert body == canonical_json(statement)
    assert statement["type"] == "bag-statement/1"
    assert statement["bag_id"].startswith("urn:uuid:")
    assert statement["tagmanifests"] == {
        "tagmanifest-sha256.txt": hashlib.sha256(
            (bag / "tagmanifest-sha256.txt").read_bytes()
        ).hexdigest(),
        "tagmanifest-sha512.txt": hashlib.sha512(
            (bag / "tagmanifest-sha512.txt").read_bytes()
        ).hexdigest(),
    }
    pair_id = (anchors / "signer-key-id.txt").read_text().strip()
    assert statement["signer"] == {"org": "Test Org", "key_id": pair_id}
    assert len((anchors / "bag-statement.json.sig").read_bytes()) == 64
    assert (anchors / "signer-public-key.pem").read_bytes() == public.read_bytes()
    assert len(list(anchors.glob("bag-statement.json.sig.*.tsr"))) == 2
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in bag.rglob("*") if p.is_file())
    assert verify_bag_signatures(bag, extra_roots=roots(tsas), trusted_keys=[public]) == []
    report = verify_provenance(bag, extra_roots=roots(tsas), trusted_keys=[public])
    assert report.problems == [] and report.signed_by == pair_id
    assert len(report.token_checks) == 6


def test_edited_statement_fails(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, _ = signed_bag(tmp_path, tsas)
    path = bag / "provenance-anchors" / "bag-statement.json"
    path.write_bytes(path.read_bytes().replace(b"Test Org", b"Fake Org"))
    assert errors(verify_bag_signatures(bag)) == {"signature-invalid"}


def test_edited_signature_fails_and_its_tokens_say_so(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, _ = signed_bag(tmp_path, tsas)
    path = bag / "provenance-anchors" / "bag-statement.json.sig"
    sig = bytearray(path.read_bytes())
    sig[0] ^= 0x80
    path.write_bytes(bytes(sig))
    problems = verify_bag_signatures(bag)
    assert errors(problems) == {"signature-invalid", "timestamp-imprint-mismatch"}
    assert "signature-not-timestamped" in codes(problems)


def test_edited_tag_manifest_is_named(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, _ = signed_bag(tmp_path, tsas)
    tm = bag / "tagmanifest-sha256.txt"
    tm.write_bytes(tm.read_bytes() + b"\n")
    problems = verify_bag_signatures(bag)
    assert [(p.code, p.path) for p in problems if p.severity == "error"] == [
        ("signature-tagmanifest-mismatch", "tagmanifest-sha256.txt")
    ]
    report = verify_provenance(bag)
    assert errors(report.problems) == {
        "signature-tagmanifest-mismatch",
        "timestamp-imprint-mismatch",
    }


def test_untrusted_key_and_unsigned_bag(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, _ = signed_bag(tmp_path, tsas)
    stranger = new_key_pair(tmp_path / "other", "stranger")
    assert errors(verify_bag_signatures(bag, trusted_keys=[stranger.public_path])) == {
        "signature-untrusted-key"
    }
    unsigned = build_bag(tmp_path / "unsigned")
    assert verify_bag_signatures(unsigned) == []
    assert codes(verify_provenance(unsigned).problems) == {"timestamp-absent"}


def test_signing_refusals(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, _ = signed_bag(tmp_path, tsas)
    pair = new_key_pair(tmp_path / "keys2", "org")
    with pytest.raises(ArchiverError, match="already signed"):
        sign_bag(bag, pair.private_path, org="Test Org", tsas=[])
    other = build_bag(tmp_path / "o")
    inside = new_key_pair(other / "data", "leak")
    with pytest.raises(ArchiverError, match="inside the bag"):
        sign_bag(other, inside.private_path, org="Test Org", tsas=[])


def test_signing_survives_a_tsa_that_is_down(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    pair = new_key_pair(tmp_path / "keys", "org")
    bag = build_bag(tmp_path / "out")
    down = TsaConfig("down", closed_port_url(), [tsas[0].root])
    result = sign_bag(bag, pair.private_path, org="Test Org", tsas=[down], timeout=5)
    assert [r.ok for r in result.timestamps] == [False]
    problems = verify_bag_signatures(bag, trusted_keys=[pair.public_path])
    assert [(p.code, p.severity) for p in problems] == [("signature-not-timestamped", "warning")]


def test_commands_print_what_they_did(
    tmp_path: Path, tsas: list[LocalTsa], capsys: pytest.CaptureFixture[str]
) -> None:
    assert keys_new_command(tmp_path / "k", "org") == 0
    out = capsys.readouterr().out
    assert "mode 0600" in out and "key id:      ed25519:" in out
    bag = build_bag(tmp_path / "out")
    key = tmp_path / "k" / "org.key.pem"
    assert sign_command(bag, key, org="Org", tsas=[t.config for t in tsas]) == 0
    out = capsys.readouterr().out
    assert out.count("token at") == 2
    log = (tmp_path / "out" / "custody-log.jsonl").read_text().splitlines()
    assert [json.loads(x)["event"] for x in log] == ["signed"]


def test_key_stored_in_the_bag_is_only_a_warning_until_checked(
    tmp_path: Path, tsas: list[LocalTsa]
) -> None:
    """A forger can re-sign a rewritten bag with their own key and store it beside the bag."""
    bag, public = signed_bag(tmp_path, tsas)
    kid = (bag / "provenance-anchors" / "signer-key-id.txt").read_text().strip()
    problems = verify_bag_signatures(bag, extra_roots=roots(tsas))
    assert [(p.code, p.severity) for p in problems] == [("signature-key-unverified", "warning")]
    assert kid in problems[0].message and "--trusted-key" in problems[0].message
    assert "compare it with the fingerprint the organisation publishes" in problems[0].message
    assert verify_bag_signatures(bag, extra_roots=roots(tsas), trusted_keys=[public]) == []
    stranger = new_key_pair(tmp_path / "other", "stranger")
    problems = verify_bag_signatures(
        bag, extra_roots=roots(tsas), trusted_keys=[stranger.public_path]
    )
    assert [(p.code, p.severity) for p in problems] == [("signature-untrusted-key", "error")]


def test_signature_tokens_need_an_independent_root(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    bag, public = signed_bag(tmp_path, tsas)
    problems = verify_bag_signatures(bag, trusted_keys=[public])
    assert not errors(problems)
    assert {"timestamp-root-unverified", "signature-not-timestamped"} <= codes(problems)


def test_sign_without_an_organisation(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    """`archiver run --sign-key` without --organisation must not fail after capturing."""
    pair = new_key_pair(tmp_path / "keys", "org")
    bag = build_bag(tmp_path / "out")
    result = sign_bag(bag, pair.private_path, org=" ", tsas=[t.config for t in tsas])
    statement = json.loads((bag / "provenance-anchors" / "bag-statement.json").read_bytes())
    assert statement["signer"] == {"key_id": result.key_id}
    assert (
        verify_bag_signatures(bag, extra_roots=roots(tsas), trusted_keys=[pair.public_path]) == []
    )
    other = build_bag(tmp_path / "cmd")
    assert sign_command(other, pair.private_path, tsas=[]) == 0


def test_deleted_signature_files_are_reported(tmp_path: Path, tsas: list[LocalTsa]) -> None:
    """The custody copy records the signing: deleting the statement cannot pass for unsigned."""
    pair = new_key_pair(tmp_path / "keys", "org")
    bag = build_bag(tmp_path / "out")
    log = tmp_path / "out" / "custody-log.jsonl"
    sign_bag(bag, pair.private_path, org="Test Org", tsas=[t.config for t in tsas], custody_log=log)
    anchors = bag / "provenance-anchors"
    for path in [anchors / "bag-statement.json", anchors / "bag-statement.json.sig"]:
        path.unlink()
    for path in anchors.glob("bag-statement.json.sig.*.tsr"):
        path.unlink()
    index = json.loads((anchors / "anchors.json").read_text())
    (anchors / "anchors.json").write_text(json.dumps({**index, "anchors": []}))
    log.unlink()  # the bag's own copy is enough
    problems = verify_provenance(bag, extra_roots=roots(tsas), trusted_keys=[pair.public_path])
    missing = {p.path for p in problems.problems if p.code == "anchors-missing"}
    assert {
        "provenance-anchors/bag-statement.json",
        "provenance-anchors/bag-statement.json.sig",
    } < (missing)
    assert len([m for m in missing if m.endswith(".tsr")]) == 2
    assert all(p.severity == "error" for p in problems.problems if p.code == "anchors-missing")


@pytest.mark.parametrize("kind", ["file", "dangling-symlink"])
def test_keys_new_with_only_the_public_file_present_writes_nothing(
    tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    public = folder / "org.pub.pem"
    if kind == "file":
        public.write_bytes(b"someone else's key\n")
    else:
        public.symlink_to(tmp_path / "nowhere.pem")
    proc = archiver("keys", "new", "--out", str(folder), "--name", "org")
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "org.pub.pem" in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["org.pub.pem"], "no half key pair"


def test_a_failed_public_write_takes_the_private_key_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archiver.attest.keys as keys

    real = keys.write_new

    def failing(directory: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
        if name.endswith(".pub.pem"):
            raise OSError(28, "No space left on device")
        return real(directory, name, data, mode)

    monkeypatch.setattr(keys, "write_new", failing)
    with pytest.raises(OSError):
        new_key_pair(tmp_path / "keys", "org")
    assert list((tmp_path / "keys").iterdir()) == []
