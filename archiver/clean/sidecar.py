"""The ``<uuid>.txt`` + ``<uuid>.json`` pair written for every cleaned WARC record.

The text is a derivative of evidence, so its sidecar names exactly what it was derived from (WARC
file, record ID, payload digest) and how (extractor, engine versions, options, which path made
the text). Same input gives the same bytes: no wall-clock times, sorted keys, fixed indent, so a
re-run can be checked by comparing digests.

Files are written through a caller-supplied ``open_file(name)``: in a run it is the bag's
hash-while-writing payload writer, in ``archiver clean`` an atomic temp-file-then-rename writer.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from archiver.clean.extract import Extraction

SIDECAR_FORMAT = "archiver.clean.sidecar/1"
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# Names derived from record IDs other tools wrote that are not UUIDs stay stable across runs.
_NAMESPACE = uuid.UUID("6f1c8f0e-5b1a-4c8e-9a59-1d6f3c2b7a10")


class WritableBinary(Protocol):
    def write(self, data: bytes, /) -> int: ...
    def close(self) -> Any: ...


@dataclass(frozen=True)
class SourceRef:
    """The WARC record the text was derived from."""

    warc_file: str  # file name as sealed, e.g. "ARCHIVER-20260101...-00000-host.warc.gz"
    record_id: str  # WARC-Record-ID of the response/resource record, "<urn:uuid:...>"
    target_uri: str | None
    warc_date: str | None  # the record's WARC-Date, as written
    payload_sha256: str | None  # hex SHA-256 of the entity body (TE removed, CE kept)
    content_type: str | None  # the HTTP Content-Type (or the resource record's)


@dataclass(frozen=True)
class TextOutput:
    """What was written: names relative to the folder ``open_file`` writes into."""

    text_name: str
    sidecar_name: str
    text_sha256: str
    text_size: int
    path: str  # the extraction path (trafilatura, readability-fallback, pdf, empty, ...)
    empty: bool
    text_result: Any = None  # whatever open_file(...).close() returned (FileDigests in a bag)
    sidecar_result: Any = None


def record_uuid(record_id: str) -> str:
    """The uuid part of ``<urn:uuid:...>``; a stable uuid5 for IDs that are not UUIDs."""
    m = _UUID_RE.search(record_id)
    if m:
        return m.group(0).lower()
    return str(uuid.uuid5(_NAMESPACE, record_id.strip()))


def text_bytes(text: str) -> bytes:
    """UTF-8, LF line ends, ending with one newline (nothing at all for an empty text)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return (text + "\n").encode("utf-8") if text else b""


def sidecar_dict(
    extraction: Extraction, source: SourceRef, text_name: str, text_sha256: str, text_size: int
) -> dict[str, Any]:
    """The sidecar's content (documented field by field in docs/clean.md)."""
    info = extraction.extractor
    metadata: dict[str, Any] = dict(extraction.metadata)
    metadata.update(
        title=extraction.title,
        author=extraction.author,
        date=extraction.date,
        language=extraction.language,
        language_probability=extraction.language_probability,
        sitename=extraction.sitename,
        description=extraction.description,
    )
    return {
        "format": SIDECAR_FORMAT,
        "source": asdict(source),
        "text": {
            "file": text_name,
            "sha256": text_sha256,
            "bytes": text_size,
            "characters": len(extraction.text),
            "empty": extraction.empty,
        },
        "extractor": {
            "name": info.name,
            "version": info.version,
            "engines": dict(info.engines),
            "options": info.options,
            "path": extraction.path,
        },
        "reason": extraction.reason,
        "notes": list(extraction.notes),
        "input": {
            "kind": extraction.kind,
            "charset": extraction.charset,
            "charset_source": extraction.charset_source,
        },
        "metadata": metadata,
    }


def sidecar_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_outputs(
    extraction: Extraction, source: SourceRef, open_file: Callable[[str], WritableBinary]
) -> TextOutput:
    """Write ``<uuid>.txt`` then ``<uuid>.json`` through ``open_file`` and close both."""
    import hashlib

    stem = record_uuid(source.record_id)
    text_name, sidecar_name = f"{stem}.txt", f"{stem}.json"
    body = text_bytes(extraction.text)
    digest = hashlib.sha256(body).hexdigest()
    sidecar = sidecar_bytes(sidecar_dict(extraction, source, text_name, digest, len(body)))

    results = []
    for name, content in ((text_name, body), (sidecar_name, sidecar)):
        f = open_file(name)
        try:
            f.write(content)
        except BaseException:
            abort = getattr(f, "abort", None)  # drop the partial file if the writer can
            abort() if abort else f.close()
            raise
        results.append(f.close())
    return TextOutput(
        text_name=text_name,
        sidecar_name=sidecar_name,
        text_sha256=digest,
        text_size=len(body),
        path=extraction.path,
        empty=extraction.empty,
        text_result=results[0],
        sidecar_result=results[1],
    )
