"""`archiver export BAG --format wacz`: a WACZ that py-wacz validates and pywb replays, with
the cited pages listed (title and cleaned text), written without touching the sealed bag."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.export.conftest import RunBag
from tests.export.pywb import Wayback
from tests.export.replaycheck import assert_failures_not_archived, assert_replays_as_captured
from tests.helpers import DATA, archiver, capture_log

OLD_BAG = DATA / "bags" / "old-layout"


def export(bag: Path, out: Path, *extra: str) -> Path:
    proc = archiver("export", str(bag), "--format", "wacz", "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from wacz.main import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def wacz(run_bag: RunBag, tmp_path_factory: pytest.TempPathFactory) -> Path:
    before = tree(run_bag.bag)
    path = export(run_bag.bag, tmp_path_factory.mktemp("wacz"))
    assert tree(run_bag.bag) == before  # the sealed bag is only read
    return path


def test_py_wacz_validates_it(wacz: Path) -> None:
    proc = wacz_validate(wacz)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded" in proc.stdout


def test_layout_digests_and_archive_byte_for_byte(wacz: Path, run_bag: RunBag) -> None:
    with zipfile.ZipFile(wacz) as z:
        names = z.namelist()
        assert names == sorted(names)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        package = json.loads(z.read("datapackage.json"))
        digest = json.loads(z.read("datapackage-digest.json"))
        warcs = sorted((run_bag.bag / "data" / "warcs").glob("*.warc.gz"))
        assert [n for n in names if n.startswith("archive/")] == [
            f"archive/{p.name}" for p in warcs
        ]
        for p in warcs:
            assert z.read(f"archive/{p.name}") == p.read_bytes()
        resources = {r["path"]: r for r in package["resources"]}
        assert set(resources) == set(names) - {"datapackage.json", "datapackage-digest.json"}
        for name, res in resources.items():
            data = z.read(name)
            assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert res["bytes"] == len(data)
        assert digest["hash"] == "sha256:" + hashlib.sha256(z.read("datapackage.json")).hexdigest()
    assert package["wacz_version"] == "1.1.1" and package["archiver"]["bag"] == run_bag.bag.name


def test_index_is_sorted_cdxj_of_replayable_records_only(wacz: Path, run_bag: RunBag) -> None:
    with zipfile.ZipFile(wacz) as z:
        lines = z.read("indexes/index.cdx").decode().splitlines()
    assert lines == sorted(lines) and lines
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    assert all(e["url"].startswith(("http://", "https://")) for e in entries)
    assert all(e["mime"] != "application/json" for e in entries)
    urls = {e["url"] for e in entries}
    assert run_bag.urls["article"] in urls and run_bag.urls["dns"] not in urls
    assert run_bag.urls["refused"] not in urls


def test_pages_list_each_cited_page_with_title_and_text(wacz: Path, run_bag: RunBag) -> None:
    with zipfile.ZipFile(wacz) as z:
        header, *pages = [json.loads(x) for x in z.read("pages/pages.jsonl").splitlines()]
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    by_url = {p["url"]: p for p in pages}
    answered = [e for e in run_bag.entries.values() if e["outcome"] in ("captured", "http-error")]
    assert set(by_url) == {e["url"] for e in answered}
    for entry in answered:
        page = by_url[entry["url"]]
        assert page["ts"].endswith("Z") and page["status"] == entry["status"]
        if entry["text"]:
            text = (run_bag.bag / "data" / entry["text"]["path"]).read_text("utf-8")
            assert page["text"] == text
    article = by_url[run_bag.urls["article"]]
    assert article["title"] == "Detention of journalists in the northern province"
    assert "security forces detained four journalists" in article["text"]


def test_pywb_replays_from_the_wacz(
    wacz: Path, run_bag: RunBag, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """pywb reads the WACZ's own index (``--unpack-wacz``): it is that index that replays."""
    wb = Wayback(tmp_path_factory.mktemp("pywb-wacz"))
    wb.add(wacz, unpack_wacz=True)
    entries = list(run_bag.entries.values())
    with wb:
        assert assert_replays_as_captured(wb, run_bag.bag, entries) == 9
        assert assert_failures_not_archived(wb, entries) == 2


def test_same_bag_same_bytes(run_bag: RunBag, wacz: Path, tmp_path: Path) -> None:
    again = export(run_bag.bag, tmp_path / "again.wacz")
    assert again.read_bytes() == wacz.read_bytes()


@pytest.fixture(scope="module")
def old_wacz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    bag = tmp_path_factory.mktemp("old") / "old-layout"
    shutil.copytree(OLD_BAG, bag)
    yield bag, export(bag, tmp_path_factory.mktemp("old-wacz"))


def test_bag_of_the_earlier_layout_exports_and_replays_right(
    old_wacz: tuple[Path, Path], tmp_path: Path
) -> None:
    """Its metadata records sit at the page URLs; the WACZ index leaves them out."""
    bag, path = old_wacz
    assert wacz_validate(path).returncode == 0
    entries = capture_log(bag)
    (tmp_path / "pywb").mkdir()
    wb = Wayback(tmp_path / "pywb")
    wb.add(path, unpack_wacz=True)
    with wb:
        assert assert_replays_as_captured(wb, bag, entries) == 6
        assert assert_failures_not_archived(wb, entries) == 2


def test_signed_with_the_organisation_key(run_bag: RunBag, tmp_path: Path) -> None:
    keys = archiver("keys", "new", "--out", str(tmp_path / "keys"), "--name", "org")
    assert keys.returncode == 0, keys.stderr
    key = tmp_path / "keys" / "org.key.pem"
    path = export(run_bag.bag, tmp_path / "signed.wacz", "--sign-key", str(key))
    assert wacz_validate(path).returncode == 0
    with zipfile.ZipFile(path) as z:
        digest: dict[str, Any] = json.loads(z.read("datapackage-digest.json"))
        blob = b"".join(z.read(n) for n in z.namelist())
    sig = digest["archiverSignature"]
    assert sig["hash"] == digest["hash"] and sig["algorithm"] == "Ed25519"
    public = load_pem_public_key(sig["publicKey"].encode())
    assert (
        public.public_bytes_raw()
        == load_pem_public_key(  # type: ignore[union-attr]
            (tmp_path / "keys" / "org.pub.pem").read_bytes()
        ).public_bytes_raw()
    )  # type: ignore[union-attr]
    public.verify(base64.b64decode(sig["signature"]), digest["hash"].encode())  # type: ignore[union-attr,call-arg]
    assert b"PRIVATE KEY" not in blob


def test_a_changed_bag_is_not_exported(tmp_path: Path) -> None:
    bag = tmp_path / "old-layout"
    shutil.copytree(OLD_BAG, bag)
    (warc,) = (bag / "data" / "warcs").glob("*.warc.gz")
    data = bytearray(warc.read_bytes())
    data[-10] ^= 0xFF
    warc.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    proc = archiver("export", str(bag), "--format", "wacz", "--out", str(out))
    assert proc.returncode == 1
    assert "manifest" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not list(out.iterdir())


def test_bad_input_one_line_exit_2(tmp_path: Path) -> None:
    bag = tmp_path / "old-layout"
    shutil.copytree(OLD_BAG, bag)
    cases = [
        ("export", str(tmp_path / "missing"), "--format", "wacz"),
        ("export", str(tmp_path), "--format", "wacz", "--out", str(tmp_path / "x.wacz")),
        ("export", str(bag), "--format", "wacz", "--out", str(bag / "inside.wacz")),
        ("export", str(bag), "--format", "wacz", "--out", str(tmp_path / "nowhere" / "x.wacz")),
    ]
    for args in cases:
        proc = archiver(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    (tmp_path / "taken.wacz").write_bytes(b"keep me")
    proc = archiver("export", str(bag), "--format", "wacz", "--out", str(tmp_path / "taken.wacz"))
    assert proc.returncode == 2 and "never overwritten" in proc.stderr
    assert (tmp_path / "taken.wacz").read_bytes() == b"keep me"


def test_two_warcs_of_one_name_in_subfolders_are_refused(tmp_path: Path) -> None:
    """A WACZ's archive/ folder is flat: two data/warcs/*/x.warc.gz would collide there."""
    from archiver.bag.writer import BagBuilder

    builder = BagBuilder(tmp_path / "bag")
    for sub in ("a", "b"):
        with builder.open_payload(f"warcs/{sub}/x.warc.gz") as w:
            w.write(sub.encode())
    bag = builder.seal([("Source-Organization", "test"), ("External-Description", "two")])
    proc = archiver("export", str(bag), "--format", "wacz", "--out", str(tmp_path))
    assert proc.returncode == 2 and "two WARCs named x.warc.gz" in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.wacz"))
