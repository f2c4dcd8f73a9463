"""`archiver receive`: safe unpacking, verification, a receipt, a custody chain that goes on."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.export.helpers import copy_bag
from tests.helpers import archiver

APTRUST = ("--profile", "aptrust", "--set", "Access=Institution")


def receive(path: Path, into: Path, *args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return archiver("receive", str(path), "--into", str(into), *args, env=env)


def sender_head(copy: Path) -> str:
    last = copy.read_bytes().split(b"\n")[-2] + b"\n"
    return hashlib.sha256(last).hexdigest()


def test_receiving_an_aptrust_tar_links_to_the_senders_chain_and_acknowledges(
    sealed_bag: Path, tmp_path: Path
) -> None:
    sender = copy_bag(sealed_bag, tmp_path / "sender" / sealed_bag.name)
    (tmp_path / "sender" / "custody-log.jsonl").write_bytes(
        (sealed_bag.parent / "custody-log.jsonl").read_bytes()
    )
    out = tmp_path / "outbox"
    proc = archiver("export", str(sender), *APTRUST, "--format", "tar", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    tar_sha256 = hashlib.sha256((out / f"{sender.name}.tar").read_bytes()).hexdigest()
    exported = json.loads((tmp_path / "sender" / "custody-log.jsonl").read_text().splitlines()[-1])
    assert exported["event"] == "exported" and exported["bag"]["name"] == sender.name
    assert exported["details"]["archive_sha256"] == tar_sha256
    assert exported["details"]["profile"] == "aptrust" and exported["details"]["format"] == "tar"
    into = tmp_path / "library"
    proc = receive(out / f"{sender.name}.tar", into, "--profile", "aptrust")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "custody-log-missing" not in proc.stdout + proc.stderr
    bag = into / sender.name
    event = json.loads((into / "custody-log.jsonl").read_text().splitlines()[-1])
    assert event["event"] == "received" and event["details"]["valid"] is True
    head = sender_head(bag / "archiver-original" / "provenance-anchors" / "custody.jsonl")
    assert event["details"]["sender_last_event_sha256"] == head
    receipt = into / f"{sender.name}.receipt.json"
    doc = json.loads(receipt.read_text())
    assert doc["sender_custody_head"]["line_sha256"] == head
    assert doc["archive_sha256"] == event["details"]["archive_sha256"] == tar_sha256
    assert doc["profile"]["problems"] == [] and doc["verification"]["valid"] is True
    assert "conforms" in (into / f"{sender.name}.receipt.txt").read_text()
    assert archiver("verify", str(bag)).returncode == 0
    # The sender records the receipt: the chain on the sender's side goes on.
    proc = archiver("custody", "record", str(sender), "acknowledged", "--receipt", str(receipt))
    assert proc.returncode == 0, proc.stderr
    last = json.loads((tmp_path / "sender" / "custody-log.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "acknowledged"
    assert last["details"]["receipt_sha256"] == hashlib.sha256(receipt.read_bytes()).hexdigest()
    assert last["details"]["exported_seq"] == exported["seq"]  # the two logs meet on one digest
    assert (
        archiver("custody", "check", str(tmp_path / "sender" / "custody-log.jsonl")).returncode == 0
    )


def test_a_received_bag_verifies_and_a_later_edit_of_its_custody_copy_is_caught(
    sealed_bag: Path, tmp_path: Path
) -> None:
    into = tmp_path / "library"
    proc = receive(sealed_bag, into)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bag = into / sealed_bag.name
    verified = archiver("verify", str(bag))
    assert verified.returncode == 0, verified.stdout
    assert "custody-log-missing" not in verified.stdout
    copy = bag / "provenance-anchors" / "custody.jsonl"
    copy.write_bytes(copy.read_bytes().replace(b'"sealed"', b'"sealed" ', 1))
    assert archiver("verify", str(bag)).returncode == 1


def test_a_receipt_is_signed_when_a_key_is_configured(sealed_bag: Path, tmp_path: Path) -> None:
    assert archiver("keys", "new", "--out", str(tmp_path / "keys")).returncode == 0
    env = dict(os.environ, ARCHIVER_SIGN_KEY=str(tmp_path / "keys" / "archiver-signing.key.pem"))
    into = tmp_path / "library"
    assert receive(sealed_bag, into, env=env).returncode == 0
    body = (into / f"{sealed_bag.name}.receipt.json").read_bytes()
    sig = base64.b64decode((into / f"{sealed_bag.name}.receipt.json.sig").read_bytes())
    public = load_pem_public_key((tmp_path / "keys" / "archiver-signing.pub.pem").read_bytes())
    public.verify(sig, body)  # type: ignore[union-attr,call-arg]  # raises if it does not match
    # The sender checks it with the receiver's public key; a receipt edited after signing, or
    # checked against another key, is refused (anyone holding the bag can write a receipt).
    sender = copy_bag(sealed_bag, tmp_path / "sender" / sealed_bag.name)
    receipt = into / f"{sealed_bag.name}.receipt.json"
    pub = tmp_path / "keys" / "archiver-signing.pub.pem"
    ack = ("custody", "record", str(sender), "acknowledged", "--receipt", str(receipt))
    proc = archiver(*ack, "--receiver-key", str(pub))
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "sender" / "custody-log.jsonl"
    event = json.loads(log.read_text().splitlines()[-1])
    assert event["details"]["receipt_signature"].startswith("verified: key ")
    assert archiver("keys", "new", "--out", str(tmp_path / "other")).returncode == 0
    wrong = archiver(*ack, "--receiver-key", str(tmp_path / "other" / "archiver-signing.pub.pem"))
    assert wrong.returncode == 2 and "does not verify" in wrong.stderr
    receipt.write_bytes(body.replace(b'"valid": true', b'"valid": false'))
    assert archiver(*ack, "--receiver-key", str(pub)).returncode == 2
    assert len(log.read_text().splitlines()) == 1  # the refusals appended nothing


def test_a_forged_or_malformed_receipt_is_told_apart(sealed_bag: Path, tmp_path: Path) -> None:
    into = tmp_path / "library"
    assert receive(sealed_bag, into).returncode == 0
    sender = copy_bag(sealed_bag, tmp_path / "sender" / sealed_bag.name)
    receipt = into / f"{sealed_bag.name}.receipt.json"
    ack = ("custody", "record", str(sender), "acknowledged", "--receipt", str(receipt))
    proc = archiver(*ack)  # unsigned, never exported: recorded, but said to be both
    assert proc.returncode == 0, proc.stderr
    assert "answers no `exported` event" in proc.stderr
    log = tmp_path / "sender" / "custody-log.jsonl"
    event = json.loads(log.read_text().splitlines()[-1])
    assert event["details"]["receipt_signature"] == "absent"
    assert event["details"]["exported_seq"] is None
    doc = json.loads(receipt.read_text())
    doc["verification"] = []
    receipt.write_text(json.dumps(doc))
    proc = archiver(*ack)
    assert proc.returncode == 2 and "not an archiver receipt (verification)" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_receipt_for_another_bag_is_refused(sealed_bag: Path, tmp_path: Path) -> None:
    into = tmp_path / "library"
    assert receive(sealed_bag, into).returncode == 0
    receipt = into / f"{sealed_bag.name}.receipt.json"
    doc = json.loads(receipt.read_text())
    doc["tagmanifest_sha256"] = "0" * 64
    receipt.write_text(json.dumps(doc))
    other = copy_bag(sealed_bag, tmp_path / "other" / sealed_bag.name)
    proc = archiver("custody", "record", str(other), "acknowledged", "--receipt", str(receipt))
    assert proc.returncode == 2 and "another bag" in proc.stderr


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


HOSTILE_TARS = {
    "zip-slip": [_file("bag/bagit.txt"), _file("bag/../../evil.txt")],
    "absolute": [_file("bag/bagit.txt"), _file("/tmp/archiver-evil.txt")],
    "symlink": [_file("bag/bagit.txt"), _special("bag/data/link", tarfile.SYMTYPE, "/etc/passwd")],
    "hardlink": [_file("bag/bagit.txt"), _special("bag/data/hard", tarfile.LNKTYPE, "/etc/passwd")],
    "device": [_file("bag/bagit.txt"), _special("bag/data/dev", tarfile.CHRTYPE)],
    "fifo": [_file("bag/bagit.txt"), _special("bag/data/fifo", tarfile.FIFOTYPE)],
    "two-folders": [_file("bag/bagit.txt"), _file("other/bagit.txt")],
    "name-twice": [_file("bag/bagit.txt"), _file("bag/data/a"), _file("bag/data/a", b"yy")],
    "file-then-folder": [_file("bag/bagit.txt"), _file("bag/data"), _file("bag/data/a")],
    "receivers-log-name": [_file("custody-log.jsonl/bagit.txt")],
    "receipt-name": [_file("victim.receipt.json/bagit.txt")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tars_are_refused_with_nothing_written(tmp_path: Path, case: str) -> None:
    archive = _tar(tmp_path / "hostile.tar", HOSTILE_TARS[case])
    into = tmp_path / "dest" / "library"
    proc = receive(archive, into)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "refused" in proc.stderr and "Traceback" not in proc.stderr
    assert list(into.iterdir()) == []  # the staging folder is gone too
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "dest" / "evil.txt").exists()
    assert not Path("/tmp/archiver-evil.txt").exists()


def test_a_10_gb_sparse_member_is_refused_without_writing_it(tmp_path: Path) -> None:
    src = tmp_path / "src" / "bag" / "data"
    src.mkdir(parents=True)
    (src.parent / "bagit.txt").write_text("BagIt-Version: 1.0\n")
    with open(src / "huge.bin", "wb") as f:
        f.truncate(10 * 1024**3)
    archive = tmp_path / "sparse.tar"
    subprocess.run(
        ["tar", "-S", "-cf", str(archive), "-C", str(tmp_path / "src"), "bag"], check=True
    )
    assert archive.stat().st_size < 1024**2
    into = tmp_path / "library"
    proc = receive(archive, into)
    assert proc.returncode == 2 and "sparse" in proc.stderr, proc.stderr
    assert list(into.iterdir()) == []


def test_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("bag/bagit.txt", "BagIt-Version: 1.0\n")
        zf.writestr("bag/data/zeros.bin", bytes(64 * 1024**2))
    into = tmp_path / "library"
    proc = receive(archive, into)
    assert proc.returncode == 2 and "zip bomb" in proc.stderr, proc.stderr
    assert list(into.iterdir()) == []


def test_a_zip_with_a_symlink_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bag/bagit.txt", "BagIt-Version: 1.0\n")
        link = zipfile.ZipInfo("bag/data/link")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    proc = receive(archive, tmp_path / "library")
    assert proc.returncode == 2 and "link" in proc.stderr
    assert list((tmp_path / "library").iterdir()) == []


def test_a_gzipped_tar_bomb_is_refused(tmp_path: Path) -> None:
    """The zip rule for tar too: 64 MB of zeros in a 64 KB .tgz is a bomb, not a bag."""
    archive = tmp_path / "bomb.tgz"
    with tarfile.open(archive, "w:gz", compresslevel=9) as tar:
        for info, data in (_file("bag/bagit.txt"), _file("bag/data/zeros.bin", bytes(64 << 20))):
            tar.addfile(info, io.BytesIO(data))
    into = tmp_path / "library"
    proc = receive(archive, into)
    assert proc.returncode == 2 and "bomb" in proc.stderr, proc.stderr
    assert list(into.iterdir()) == []


def test_max_size_bounds_what_a_receive_may_write(sealed_bag: Path, tmp_path: Path) -> None:
    proc = receive(sealed_bag, tmp_path / "library", "--max-size", "1KB")
    assert proc.returncode == 2 and "over the 1000 allowed here" in proc.stderr, proc.stderr
    assert list((tmp_path / "library").iterdir()) == []
