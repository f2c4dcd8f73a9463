"""The ``provenance-anchors/`` folder of a sealed bag: where tokens, signatures and chains live.

Anchors attest to the bag's tag manifests, so they cannot be listed in them; the folder sits at
the bag root, outside every manifest, and adding to it never invalidates the bag. Files in it
are only ever added (a new token gets a new name), except ``anchors.json``, an index that can be
rebuilt from the files, and the ``tsa-chains/`` PEM bundles, which only ever gain certificates.
Every write goes to a temporary name, is fsynced, then linked or renamed into place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archiver.base.fsutil import dir_lock, replace_file

ANCHORS_DIR = "provenance-anchors"
CHAINS_DIR = "tsa-chains"
INDEX_NAME = "anchors.json"
INDEX_FORMAT = "archiver-anchors/1"
# The signature's files (attest.signing writes them) and the custody log's copy in the bag.
STATEMENT = "bag-statement.json"
SIGNATURE = STATEMENT + ".sig"
PUBLIC_KEY = "signer-public-key.pem"
KEY_ID = "signer-key-id.txt"
BAG_COPY = "custody.jsonl"


def anchors_dir(bag: Path, *, create: bool = False) -> Path:
    path = bag / ANCHORS_DIR
    if create:  # tsa-chains/ is made by the first token kept: no empty folder in the bag
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(bag: Path) -> Iterator[Path]:
    """Hold an exclusive lock on the bag's anchors folder (two `archiver timestamp` at once)."""
    with dir_lock(anchors_dir(bag, create=True)) as path:
        yield path


def read_index(bag: Path) -> dict[str, Any]:
    """The ``anchors.json`` index, or an empty one when absent or unreadable."""
    path = anchors_dir(bag) / INDEX_NAME
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {}
    data.setdefault("format", INDEX_FORMAT)
    data.setdefault("anchors", [])
    data.setdefault("failures", [])
    return data


def add_to_index(
    bag: Path, anchors: list[dict[str, Any]], failures: list[dict[str, Any]] | None = None
) -> None:
    """Append anchor and failure records to ``anchors.json`` (caller holds ``locked``)."""
    index = read_index(bag)
    index["anchors"].extend(anchors)
    index["failures"].extend(failures or [])
    text = json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    replace_file(anchors_dir(bag) / INDEX_NAME, text.encode("utf-8"))


def merge_pem(path: Path, pems: list[bytes]) -> None:
    """Add certificates to a PEM bundle, keeping every certificate already there."""
    existing = path.read_bytes() if path.exists() else b""
    blocks = _pem_blocks(existing)
    changed = False
    for pem in pems:
        for block in _pem_blocks(pem):
            if block not in blocks:
                blocks.append(block)
                changed = True
    if changed or not path.exists():
        replace_file(path, b"".join(blocks))


def _pem_blocks(data: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    blocks: list[bytes] = []
    for part in data.split(end)[:-1]:
        start = part.find(b"-----BEGIN CERTIFICATE-----")
        if start >= 0:
            blocks.append(part[start:].strip() + b"\n" + end + b"\n")
    return blocks
