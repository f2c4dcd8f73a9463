"""`archiver run` with trusted timestamps and a signature, then `archiver verify`, end to end.

Two real RFC 3161 TSAs (openssl, separate roots) and a capture server run on 127.0.0.1. The run
must timestamp and sign the bag as it seals it, verify must check every token and the signature,
and tampering with any of them must make verify fail naming the file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver
from tests.servers import TestServer
from tests.tsa import LocalTsa, closed_port_url, start_tsa


def tsa_option(tsa: LocalTsa) -> str:
    return f"{tsa.name}={tsa.url},{tsa.trust_file}"


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalTsa, LocalTsa]]:
    base = tmp_path_factory.mktemp("tsas")
    alpha = start_tsa(base / "alpha", "rsa", "alpha")
    beta = start_tsa(base / "beta", "ec", "beta")
    yield alpha, beta
    alpha.stop()
    beta.stop()


@pytest.fixture(scope="module")
def signed_bag(
    tmp_path_factory: pytest.TempPathFactory,
    http_server: TestServer,
    tsas: tuple[LocalTsa, LocalTsa],
) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("signed")
    keys = archiver("keys", "new", "--out", str(work / "keys"), "--name", "org")
    assert keys.returncode == 0, keys.stderr
    doc = work / "cited.txt"
    doc.write_text(f"See {http_server.url('/articles/one.html')}\n")
    proc = archiver(
        "run",
        str(doc),
        "--out",
        str(work / "out"),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--organisation",
        "Test NGO",
        "--tsa",
        tsa_option(tsas[0]),
        "--tsa",
        tsa_option(tsas[1]),
        "--sign-key",
        str(work / "keys" / "org.key.pem"),
    )
    assert proc.returncode == 0, proc.stderr
    return work / "out" / "bag", work / "keys", proc.stderr


def verify_json(bag: Path, *options: str) -> tuple[int, dict[str, Any]]:
    proc = archiver("verify", "--json", *options, str(bag))
    return proc.returncode, json.loads(proc.stdout)


def test_run_timestamps_and_signs_as_it_seals(
    signed_bag: tuple[Path, Path, str], tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag, keys, _ = signed_bag
    trust = ["--tsa-root", str(tsas[0].root), "--tsa-root", str(tsas[1].root)]
    trust += ["--trusted-key", str(keys / "org.pub.pem")]
    code, report = verify_json(bag, *trust)
    assert code == 0, report["problems"]
    assert report["problems"] == []
    stamps = report["provenance"]["timestamps"]
    assert {s["tsa"] for s in stamps if s["ok"]} == {"alpha", "beta"}
    assert all(s["ok"] for s in stamps)
    # Without independently obtained roots and key, the bag's own copies are only warnings.
    code, untrusted = verify_json(bag)
    assert code == 0 and not any(s["ok"] for s in untrusted["provenance"]["timestamps"])
    warned = {p["code"] for p in untrusted["problems"] if p["severity"] == "warning"}
    assert {"timestamp-root-unverified", "signature-key-unverified"} <= warned
    public = (keys / "org.pub.pem").read_bytes()
    assert report["provenance"]["signed_by"].startswith("ed25519:")
    # the public key travels with the bag; the private key never does
    private = (keys / "org.key.pem").read_bytes()
    bag_bytes = b"".join(p.read_bytes() for p in bag.rglob("*") if p.is_file())
    assert public.strip() in bag_bytes
    assert private.strip() not in bag_bytes
    human = archiver("verify", str(bag))
    assert human.returncode == 0 and "signed by ed25519:" in human.stdout


def test_bagit_python_still_validates_the_anchored_bag(signed_bag: tuple[Path, Path, str]) -> None:
    bag = signed_bag[0]
    assert subprocess.run(["bagit.py", "--validate", str(bag)], capture_output=True).returncode == 0


def test_custody_log_records_the_run(signed_bag: tuple[Path, Path, str]) -> None:
    bag = signed_bag[0]
    events = [
        json.loads(x)["event"] for x in (bag.parent / "custody-log.jsonl").read_text().splitlines()
    ]
    assert events[:2] == ["captured", "sealed"]
    assert "timestamped" in events and "signed" in events


@pytest.mark.parametrize("target", ["token", "statement", "tagmanifest", "payload"])
def test_tampering_fails_verify_naming_the_file(
    signed_bag: tuple[Path, Path, str], tmp_path: Path, target: str
) -> None:
    copy = tmp_path / "bag"
    shutil.copytree(signed_bag[0], copy)
    anchors = copy / "provenance-anchors"
    path = {
        "token": sorted(anchors.glob("tagmanifest-sha256.txt.*.tsr"))[0],
        "statement": anchors / "bag-statement.json",
        "tagmanifest": copy / "tagmanifest-sha256.txt",
        "payload": sorted((copy / "data" / "warcs").glob("*.warc.gz"))[0],
    }[target]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    code, report = verify_json(copy)
    assert code == 1
    named = {p["path"] for p in report["problems"] if p["severity"] == "error"}
    rel = path.relative_to(copy).as_posix()
    assert any(rel in n for n in named), (rel, named)


def test_a_tsa_that_is_down_does_not_lose_the_run(
    tmp_path: Path, http_server: TestServer, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    doc = tmp_path / "cited.txt"
    doc.write_text(f"See {http_server.url('/articles/two.html')}\n")
    proc = archiver(
        "run",
        str(doc),
        "--out",
        str(tmp_path / "out"),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--tsa",
        tsa_option(tsas[0]),
        "--tsa",
        f"down={closed_port_url()},{tsas[1].root}",
    )
    assert proc.returncode == 0, proc.stderr
    assert "timestamp: down failed" in proc.stderr
    code, report = verify_json(tmp_path / "out" / "bag")
    assert code == 0, report["problems"]
    assert {s["tsa"] for s in report["provenance"]["timestamps"]} == {"alpha"}


def test_collection_configures_its_tsas(
    tmp_path: Path, http_server: TestServer, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    coll = tmp_path / "coll"
    coll.mkdir()
    shutil.copy(tsas[1].trust_file, coll / "beta-root.pem")
    (coll / "collection.toml").write_text(
        '[collection]\nname = "tsa-test"\n\n'
        f'[[url]]\nurl = "{http_server.url("/articles/three.html")}"\n\n'
        f'[[tsa]]\nname = "beta"\nurl = "{tsas[1].url}"\nroots = ["beta-root.pem"]\n',
        encoding="utf-8",
    )
    proc = archiver(
        "run",
        str(coll),
        "--out",
        str(tmp_path / "out"),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--trust-collection-settings",  # a collection's [[tsa]] URLs are used only with consent
    )
    assert proc.returncode == 0, proc.stderr
    code, report = verify_json(tmp_path / "out" / "bag")
    assert code == 0
    assert {s["tsa"] for s in report["provenance"]["timestamps"]} == {"beta"}


def test_bad_tsa_option_fails_before_capturing(tmp_path: Path, http_server: TestServer) -> None:
    doc = tmp_path / "cited.txt"
    doc.write_text(f"See {http_server.url('/articles/two.html')}\n")
    proc = archiver("run", str(doc), "--out", str(tmp_path / "out"), "--tsa", "no-url-here")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
