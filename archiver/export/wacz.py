"""``archiver export BAG --format wacz``: a sealed bag as a WACZ 1.1.1 file, for replay.

WACZ (specs.webrecorder.net/wacz/1.1.1) is the ZIP that ReplayWeb.page, pywb
(``wb-manager add --unpack-wacz``) and browsertrix read: ``archive/`` the run's WARCs byte for
byte, ``indexes/index.cdx`` a sorted CDXJ of the replayable records (archiver.export.cdxj),
``pages/pages.jsonl`` the cited pages with title and cleaned text (archiver.export.pages),
``datapackage.json`` (SHA-256 and size of every file) and ``datapackage-digest.json`` (its
digest, signed with the organisation's Ed25519 key when one is given). The bag is only read:
every file taken from it is checked against its sealed manifest first, so a changed bag is
never exported. The same bag gives the same bytes (archiver.export.zipout).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.attest.keys import key_id, load_private_key, public_fingerprint, public_pem
from archiver.bag.reader import (
    bag_info_value,
    check_tag_files,
    read_bag_info,
    require_sealed_bag,
    tag_manifest_entries,
)
from archiver.base.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.timefmt import parse_iso
from archiver.export.cdxj import index_warcs
from archiver.export.handed import record_export
from archiver.export.pages import EXTRA_PAGES, PAGES, jsonl, page_lists
from archiver.export.zipout import Entry, file_sha256, write_zip

WACZ_VERSION = "1.1.1"
INDEX = "indexes/index.cdx"  # plain sorted CDXJ; the name pywb's --unpack-wacz looks for
LOG = "data/capture-log.jsonl"
SIGNATURE_FIELD = "archiverSignature"


def _target(bag: Path, out: Path | None) -> Path:
    """Where the WACZ goes: ``--out`` (a file, or a folder for ``<bag>.wacz``), else the
    current folder; never inside the sealed bag."""
    name = f"{bag.name}.wacz"
    target = Path.cwd() / name if out is None else (out / name if out.is_dir() else out)
    if not target.parent.is_dir():
        raise ArchiverError(f"{target.parent}: no such folder for the WACZ (create it first)")
    if target.resolve().is_relative_to(bag.resolve()):
        raise ArchiverError(f"{target}: inside the sealed bag; write the WACZ elsewhere (--out)")
    if target.suffix.lower() != ".wacz":
        raise ArchiverError(f"{target}: a WACZ file name ends in .wacz (give --out NAME.wacz)")
    return target


class _CheckedBag:
    """The sealed bag, read only through its payload manifest (SHA-256)."""

    def __init__(self, bag: Path) -> None:
        self.bag = require_sealed_bag(bag)
        check_tag_files(self.bag)  # the manifests are still the sealed ones
        try:
            entries = tag_manifest_entries(self.bag, "manifest-sha256.txt")
        except ArchiverError as err:
            raise ArchiverError(f"{err} (a WACZ export needs manifest-sha256.txt)") from None
        self.digests = {rel: digest.lower() for digest, rel in entries}

    def read(self, rel: str) -> bytes:
        """A small payload file's bytes, after checking them against the manifest."""
        path = self.bag / rel
        if rel not in self.digests or path.is_symlink() or not path.is_file():
            raise ArchiverError(f"{path}: not in the bag's manifest; run `archiver verify`")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.digests[rel]:
            raise _changed(path)
        return data

    def warcs(self) -> list[tuple[Path, str, int]]:
        """(path, sha256, size) of every WARC the manifest lists, each checked."""
        out = []
        for rel in sorted(self.digests):
            if rel.startswith("data/warcs/") and rel.endswith((".warc.gz", ".warc")):
                path = self.bag / rel
                if path.is_symlink() or not path.is_file():
                    raise ArchiverError(f"{path}: missing or not a file; run `archiver verify`")
                digest, size = file_sha256(path)
                if digest != self.digests[rel]:
                    raise _changed(path)
                out.append((path, digest, size))
        if not out:
            raise ArchiverError(f"{self.bag}: holds no WARC file, so there is nothing to replay")
        names = [p.name for p, _, _ in out]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # archive/ is flat in a WACZ: one name, one file
            raise ArchiverError(f"{self.bag}: two WARCs named {twice[0]} in data/warcs/; the WACZ "
                                "holds them in one folder")  # fmt: skip
        return out


def _changed(path: Path) -> ArchiverError:
    return ArchiverError(
        f"{path}: does not match the bag's manifest-sha256.txt; the bag changed after sealing, "
        "nothing was exported (run `archiver verify`)",
        EXIT_INVALID,
    )


def _created(bag_info: list[tuple[str, str]]) -> datetime:
    """The capture's end (else the bagging date): the WACZ's time, so exports are identical."""
    for label in ("Capture-End", "Bagging-Date"):
        moment = parse_iso(bag_info_value(bag_info, label))
        if moment is not None:
            return moment.astimezone(UTC).replace(microsecond=0)
    return datetime(1980, 1, 1, tzinfo=UTC)


def _resource(path: str, data_hash: str, size: int) -> dict[str, Any]:
    name = path.rsplit("/", 1)[-1].lower()
    return {"name": name, "path": path, "hash": f"sha256:{data_hash}", "bytes": size}


def _datapackage(
    checked: _CheckedBag, members: list[Entry], hashes: dict[str, tuple[str, int]], created: str
) -> bytes:
    bag_info = read_bag_info(checked.bag)
    tagmanifest = checked.bag / "tagmanifest-sha256.txt"
    package: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": bag_info_value(bag_info, "External-Description") or checked.bag.name,
        "description": (
            f"Web captures exported from the sealed BagIt bag {checked.bag.name}; "
            "its WARC files are byte for byte those of the bag's data/warcs/"
        ),
        "created": created,
        "software": f"archiver {__version__}",
        "resources": [_resource(m.name, *hashes[m.name]) for m in members],
        "archiver": {  # ties this WACZ to the bag its timestamps and signature cover
            "bag": checked.bag.name,
            "externalIdentifier": bag_info_value(bag_info, "External-Identifier"),
            "sourceOrganization": bag_info_value(bag_info, "Source-Organization"),
            "tagmanifestSha256": file_sha256(tagmanifest)[0] if tagmanifest.is_file() else None,
        },
    }
    return (json.dumps(package, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _signature(key_path: Path, hash_value: str, created: str) -> dict[str, str]:
    """An Ed25519 signature over the UTF-8 bytes of ``hash_value`` (see docs/handoff.md)."""
    key = load_private_key(key_path)
    public = key.public_key()
    return {
        "algorithm": "Ed25519",
        "hash": hash_value,
        "created": created,
        "software": f"archiver {__version__}",
        "keyId": key_id(public),
        "publicKeyFingerprint": public_fingerprint(public),
        "publicKey": public_pem(public).decode("ascii"),
        "signature": base64.b64encode(key.sign(hash_value.encode("ascii"))).decode("ascii"),
    }


def export_wacz(bag: Path, out: Path | None = None, *, sign_key: Path | None = None) -> Path:
    """Write the WACZ of sealed bag ``bag``; returns its path. The bag is never changed."""
    checked = _CheckedBag(bag)
    target = _target(checked.bag, out)
    warcs = checked.warcs()
    try:
        log = [json.loads(line) for line in checked.read(LOG).splitlines() if line.strip()]
    except ValueError as err:
        raise ArchiverError(f"{checked.bag / LOG}: not JSON lines ({err})", EXIT_INVALID) from None
    lists = page_lists(checked.bag, log, read=checked.read)
    members = [Entry(f"archive/{p.name}", source=p, size=n, sha256=h) for p, h, n in warcs]
    members.append(Entry(INDEX, index_warcs([p for p, _, _ in warcs])))
    members.append(Entry(PAGES, jsonl(lists.pages, list_id="pages", title="Cited pages")))
    if lists.extra:
        extra = jsonl(lists.extra, list_id="extra-pages", title="Pages reached by links")
        members.append(Entry(EXTRA_PAGES, extra))
    members.sort(key=lambda m: m.name)
    hashes = {
        m.name: (m.sha256 or "", m.size)
        if m.data is None
        else (hashlib.sha256(m.data).hexdigest(), len(m.data))
        for m in members
    }
    when = _created(read_bag_info(checked.bag))
    created = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    package = _datapackage(checked, members, hashes, created)
    digest: dict[str, Any] = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(package).hexdigest(),
    }
    if sign_key is not None:
        digest[SIGNATURE_FIELD] = _signature(sign_key, digest["hash"], created)
    members.append(Entry("datapackage.json", package))
    members.append(Entry("datapackage-digest.json", (json.dumps(digest, indent=2) + "\n").encode()))
    return write_zip(target, members, when)


def export_wacz_command(bag: Path, out: Path | None, sign_key: Path | None) -> int:
    """The verb: write the WACZ, print its path (stdout) and what it holds (stderr)."""
    if not bag.exists():
        raise ArchiverError(f"{bag}: no such bag folder (give the sealed bag's folder)", EXIT_USAGE)
    target = export_wacz(bag, out, sign_key=sign_key)
    entry = record_export(bag, target, "wacz", None)
    print(f"custody: exported recorded as seq {entry['seq']}", file=sys.stderr)
    print(f"WACZ {WACZ_VERSION}: {target.stat().st_size} bytes", file=sys.stderr)
    print(target)
    return EXIT_OK
