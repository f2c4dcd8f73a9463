"""``archiver import``: real captures by other tools become sealed bags that verify.

Each fixture in tests/data/warc/ is a real file written by wget, wpull, warcprox, the Internet
Archive's LiveWeb writer or ArchiveWeb.page (tests/data/warc/SOURCES.md). What the log must say
is worked out independently with warcio, not with the importer's own reader.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sqlite3
import subprocess
import zipfile
from base64 import b32decode
from pathlib import Path
from typing import Any

import bagit
import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.verify.capturelog import cross_check
from archiver.verify.indexed import IndexedRecord
from tests.helpers import DATA, archiver, capture_log
from tests.tsa import start_tsa
from tests.warc.helpers import arc_bytes

WARCS = DATA / "warc"
REAL = {  # fixture -> the software its warcinfo names
    "pywb-example-wget-1-14.warc.gz": "Wget/1.14 (linux-gnu)",
    "pywb-example-wpull.warc.gz": "Wpull/1.0 Python/3.4.2",
    "pywb-example2-warcprox.warc.gz": "webrecorder.io 2.0 (warcprox 1.4-20151022181819-1a48f12)",
    "pywb-iana.warc.gz": "LiveWeb Warc Writer 1.0",
    "pywacz-example-iana-warc11-sha256.warc.gz": "Webrecorder ArchiveWeb.page 0.6.7 "
    "(via warcio.js 1.4.6)",
    # uncompressed, and a legacy payload digest over the chunked body
    "warcio-example-iana.org-chunked.warc": "webrecorder.io 2.0 "
    "(warcprox 1.4-20151006074455-78e4ecd)",
    # wget 1.19: WARC-Target-URI in angle brackets
    "warcio-example-wget-bad-target-uri.warc.gz": "Wget/1.19.4 (darwin17.3.0)",
}


def _expected(path: Path) -> list[dict[str, Any]]:
    """The records an import lists, read with warcio: web responses, resources and revisits
    whose record ID is used once (wget reuses one for its own metadata files)."""
    found: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    with open(path, "rb") as f:
        it = ArchiveIterator(f)
        for rec in it:
            rid = rec.rec_headers.get_header("WARC-Record-ID")
            ids[rid] = ids.get(rid, 0) + 1
            uri = (rec.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")
            if rec.rec_type in ("response", "resource", "revisit") and uri.startswith("http"):
                found.append(
                    {
                        "url": uri,
                        "record_id": rid,
                        "offset": it.get_record_offset(),
                        "type": rec.rec_type,
                        "digest": rec.rec_headers.get_header("WARC-Payload-Digest"),
                    }
                )
    return [r for r in found if ids[r["record_id"]] == 1]


def _import(tmp_path: Path, *inputs: Path | str, more: tuple[str, ...] = ()) -> Path:
    out = tmp_path / "runs"
    result = archiver("import", *map(str, inputs), "--out", str(out), "--operator", "Ana", *more)
    assert result.returncode == 0, result.stderr
    bag = Path(result.stdout.strip().splitlines()[-1])
    assert bag.parent == out and bag.is_dir()
    return bag


def _verifies(bag: Path) -> dict[str, Any]:
    result = archiver("verify", str(bag), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["valid"], report["problems"]
    bagit.Bag(str(bag)).validate()  # the Library of Congress validator agrees
    return report


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_capture_imports_into_a_sealed_verified_bag(tmp_path: Path, name: str) -> None:
    source = WARCS / name
    bag = _import(tmp_path, source)
    report = _verifies(bag)
    assert report["capture_log_checked"]
    # Byte for byte: the WARC in the bag is the file given.
    assert (bag / "data" / "warcs" / name).read_bytes() == source.read_bytes()
    # One entry per listed record, true to the record it names.
    entries, expected = capture_log(bag), _expected(source)
    assert len(entries) == len(expected) > 0
    for entry, rec in zip(entries, expected, strict=True):
        ref = entry["records"][0]
        assert (entry["url"], ref["record_id"], ref["offset"], ref["type"]) == (
            rec["url"], rec["record_id"], rec["offset"], rec["type"],
        )  # fmt: skip
        assert ref["warc_file"] == name
        imported = entry["imported"]
        assert imported["software"] == REAL[name]
        assert imported["payload_digest"] == rec["digest"]
        assert imported["source"] == name and imported["record_type"] == rec["type"]
        # Never a claim archiver captured it: no network facts of ours.
        assert entry["ip"] is entry["dns"] is entry["tls"] is entry["provenance_record"] is None
        digest = rec["digest"] or ""
        if rec["type"] != "revisit" and digest.startswith("sha256:"):
            value = digest[7:]
            hexed = value.lower() if len(value) == 64 else b32decode(value).hex()
            assert entry["payload_sha256"] == hexed
    info = (bag / "bag-info.txt").read_text("utf-8")
    assert f"Capture-Software: {REAL[name]}" in info
    assert f"External-Description: Captured by {REAL[name]}; imported by archiver" in info
    assert "Import-Operator: Ana" in info and f"Import-Source: {name}" in info
    summary = (bag / "data" / "provenance-summary.txt").read_text("utf-8")
    assert "Imported (not captured by archiver)" in summary and "TLS certificate" not in summary
    # Custody says imported, never captured; the catalog lists every entry.
    events = [json.loads(x)["event"] for x in (bag.parent / "custody-log.jsonl").open()]
    assert events[:2] == ["imported", "sealed"] and "captured" not in events
    with sqlite3.connect(bag.parent / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM captures").fetchone()[0] == len(entries)


def test_import_is_timestamped_and_signed_like_a_run(tmp_path: Path) -> None:
    tsa = start_tsa(tmp_path / "tsa", "rsa", "alpha")
    try:
        keys = archiver("keys", "new", "--out", str(tmp_path / "keys"), "--name", "org")
        assert keys.returncode == 0, keys.stderr
        key = str(tmp_path / "keys" / "org.key.pem")
        tsa_option = f"alpha={tsa.url},{tsa.trust_file}"
        warc = WARCS / "pywb-example-wpull.warc.gz"
        bag = _import(tmp_path, warc, more=("--tsa", tsa_option, "--sign-key", key))
    finally:
        tsa.stop()
    trust = ["--tsa-root", str(tsa.root), "--trusted-key", str(tmp_path / "keys" / "org.pub.pem")]
    result = archiver("verify", "--json", *trust, str(bag))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["problems"] == [], report["problems"]
    stamps = report["provenance"]["timestamps"]
    assert stamps and all(s["ok"] and s["tsa"] == "alpha" for s in stamps)
    assert report["provenance"]["signed_by"].startswith("ed25519:")
    events = [json.loads(x)["event"] for x in (bag.parent / "custody-log.jsonl").open()]
    assert events[:2] == ["imported", "sealed"] and {"timestamped", "signed"} <= set(events)


def test_html_responses_get_cleaned_text(tmp_path: Path) -> None:
    bag = _import(tmp_path, WARCS / "pywb-example-wget-1-14.warc.gz")
    (entry,) = capture_log(bag)
    text = bag / "data" / entry["text"]["path"]
    assert "illustrative examples" in text.read_text("utf-8")
    sidecar = json.loads((bag / "data" / entry["text"]["sidecar"]).read_text("utf-8"))
    assert entry["records"][0]["record_id"] in json.dumps(sidecar)


def _handmade_wacz(path: Path, warc: Path) -> None:
    """A WACZ 1.1.1 laid out by hand (the spec's archive/, indexes/, pages/, datapackage)."""
    member = f"archive/{warc.name}"
    data = warc.read_bytes()
    package = {
        "profile": "data-package",
        "wacz_version": "1.1.1",
        "resources": [
            {
                "name": warc.name,
                "path": member,
                "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
            }
        ],
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data, compress_type=zipfile.ZIP_STORED)
        zf.writestr("pages/pages.jsonl", '{"format": "json-pages-1.0"}\n')
        zf.writestr("datapackage.json", json.dumps(package))


def test_wacz_imports_with_its_warcs_and_itself_kept(tmp_path: Path) -> None:
    warc = WARCS / "pywb-example2-warcprox.warc.gz"
    wacz = tmp_path / "site.wacz"
    tool = shutil.which("wacz")
    if tool:  # py-wacz, as users make them
        subprocess.run([tool, "create", "-o", str(wacz), str(warc)], check=True, cwd=tmp_path)
    else:
        _handmade_wacz(wacz, warc)
    bag = _import(tmp_path, wacz, WARCS / "pywb-example-wpull.warc.gz", more=("--collection", "x"))
    assert bag.name.startswith("x-")
    _verifies(bag)
    assert (bag / "data" / "wacz" / "site.wacz").read_bytes() == wacz.read_bytes()
    assert (bag / "data" / "warcs" / warc.name).read_bytes() == warc.read_bytes()
    sources = {e["imported"]["source"] for e in capture_log(bag)}
    assert sources == {f"site.wacz!archive/{warc.name}", "pywb-example-wpull.warc.gz"}
    info = (bag / "bag-info.txt").read_text("utf-8")
    assert "warcprox 1.4" in info and "Wpull/1.0" in info


def _truncated_gzip(tmp: Path) -> Path:
    data = (WARCS / "pywb-example-wget-1-14.warc.gz").read_bytes()
    path = tmp / "cut.warc.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def _text(tmp: Path) -> Path:
    path = tmp / "notes.warc"
    path.write_text("these are notes, not a capture\n")
    return path


def _arc(tmp: Path) -> Path:
    path = tmp / "old.arc.gz"
    path.write_bytes(b"".join(gzip.compress(r) for r in arc_bytes()))
    return path


def _zip(tmp: Path) -> Path:
    path = tmp / "other.wacz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "no archive folder")
    return path


def _wacz_damaged(tmp: Path) -> Path:
    path = tmp / "site.wacz"
    _handmade_wacz(path, _truncated_gzip(tmp))
    return path


def _wacz_bomb(tmp: Path) -> Path:
    """A WACZ whose WARC member is 64 MB of zeros deflated to some 64 KB."""
    path = tmp / "site.wacz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("archive/big.warc", bytes(64 << 20))
        zf.writestr("datapackage.json", json.dumps({"wacz_version": "1.1.1", "resources": []}))
    return path


def _digest_bad(tmp: Path) -> Path:
    return WARCS / "warcio-example-trunc.warc"


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (_truncated_gzip, "damaged WARC, not imported"),
        (_digest_bad, "damaged WARC, not imported"),
        (_wacz_damaged, "!archive/cut.warc.gz: damaged WARC, not imported"),
        (_wacz_bomb, "!archive/big.warc: inflates over 200x (a zip bomb?)"),
        (_text, "not a WARC or WACZ file"),
        (_arc, "an ARC file"),
        (_zip, "not a WACZ"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_kept(
    tmp_path: Path, make: Any, said: str
) -> None:
    out = tmp_path / "runs"
    given = make(tmp_path)
    result = archiver("import", str(given), "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in result.stderr
    assert lines[0].startswith(f"archiver: {given}")
    assert not out.exists() or not any(out.iterdir())  # no bag, no staging folder


def test_two_warcs_of_one_name_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "b" / "pywb-example-wpull.warc.gz"
    copy.parent.mkdir()
    shutil.copy(WARCS / "pywb-example-wpull.warc.gz", copy)
    result = archiver("import", str(WARCS / "pywb-example-wpull.warc.gz"), str(copy))
    assert result.returncode == 2 and "two inputs hold a WARC of this name" in result.stderr


def _entry(url: str, rid: str, rtype: str, imported: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "url": url,
        "outcome": "captured",
        "started": "2014-01-01T00:00:00Z",
        "ended": "2014-01-01T00:00:00Z",
        "status": 200,
        "final_url": url,
        "payload_sha256": None,
        "text": None,
        "records": [
            {"warc_file": "a.warc.gz", "record_id": rid, "type": rtype, "offset": 0, "length": 9}
        ],
    }
    if imported:
        entry["imported"] = {"imported_by": "archiver", "source": "a.warc.gz", "record_type": rtype}
    return entry


@pytest.mark.parametrize("imported", [True, False])
def test_verify_rule_for_imported_entries(tmp_path: Path, imported: bool) -> None:
    """Imported: one entry per record (a URL may recur), a revisit is a capture, and no
    provenance record is expected. Our own entries keep the strict rules."""
    (tmp_path / "data").mkdir()
    url = "http://example.com/"
    lines = [
        _entry(url, "<urn:x:1>", "revisit", imported),
        _entry(url, "<urn:x:2>", "response", imported),
    ]
    lines[1]["records"][0]["offset"] = 9
    (tmp_path / "data" / "capture-log.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in lines)
    )
    index = {
        "<urn:x:1>": IndexedRecord("a.warc.gz", 0, "revisit", url, None, 200),
        "<urn:x:2>": IndexedRecord("a.warc.gz", 9, "response", url, None, 200),
    }
    codes = {p.code for p in cross_check(tmp_path, index) if p.severity == "error"}
    if imported:
        assert codes == set()
    else:
        assert codes == {"capture-log-duplicate-url", "capture-log-outcome-mismatch"}


def test_collection_folder_names_the_bag_and_travels_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARCHIVER_ORGANISATION")  # the environment would win over the collection
    folder = tmp_path / "ngo"
    folder.mkdir()
    (folder / "collection.toml").write_text(
        '[collection]\nname = "ngo-web"\ndescription = "A partner\'s wget crawl."\n'
        'organisation = "Example Library"\n\n[[document]]\nurl = "https://example.org/r"\n'
        'title = "Report"\n'
    )
    bag = _import(
        tmp_path, WARCS / "pywb-example-wget-1-14.warc.gz", more=("--collection", str(folder))
    )
    assert bag.name.startswith("ngo-web-")
    _verifies(bag)
    assert (bag / "data" / "collection.toml").read_bytes() == (
        folder / "collection.toml"
    ).read_bytes()
    info = (bag / "bag-info.txt").read_text("utf-8")
    assert "Source-Organization: Example Library" in info
    assert "External-Description: A partner's wget crawl. (Captured by Wget/1.14" in info


def test_what_warcinfo_names_is_bounded() -> None:
    """warcinfo is anyone's text: a bag-info line names at most 10 tools of 200 characters."""
    from archiver.run.importlog import MAX_NAMED, FileEntries, _note_tool, summary_fields

    out = FileEntries()
    for i in range(50):
        _note_tool(out, {"software": f"tool-{i} " + "x" * 1000, "operator": f"op {i}"})
    assert len(out.software) == MAX_NAMED and len(out.operators) == MAX_NAMED
    assert all(len(s) == 200 and s.endswith("…") for s in out.software)
    facts = summary_fields([out, FileEntries(software=[f"other-{i}" for i in range(20)])])
    assert len(facts.software) == MAX_NAMED and facts.software[0].startswith("tool-0 ")
