"""The capture log: one JSON object per URL saying what happened to it, and where the evidence is.

During a run the log is an append-only journal, fsynced after every entry, so an interrupted run
knows which URLs are done and a re-run completes the rest. When the run is sealed the journal is
written into the bag as ``data/capture-log.jsonl``. ``cross_check`` ties the log back to the
WARC records and text files it names, which is what lets a reader trust the log as an index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from archiver.base.hashing import hash_file
from archiver.base.problems import Problem, one_line
from archiver.capture.log import (
    LOG_NAME,
    OUTCOMES,
    REQUIRED_FIELDS,
    CaptureEntry,
    EntryShapeError,
)
from archiver.capture.witnessparts import third_party_refs
from archiver.verify.indexed import IndexedRecord, split_robots_records
from archiver.warc.targets import subject_url


def cross_check(
    bag_root: Path,
    records: Mapping[str, IndexedRecord],
    log_relpath: str = f"data/{LOG_NAME}",
) -> list[Problem]:
    """Check every log entry against the WARC index and the text files in the bag.

    ``records`` maps WARC-Record-ID to what the WARC checker found, so this never re-reads WARCs.
    """
    log_path = bag_root / log_relpath
    if not log_path.is_file():
        return [Problem("capture-log-missing", log_relpath, "the bag has no capture log")]
    referenced: set[str] = set()
    texts_referenced: set[str] = set()
    problems = _check_lines(bag_root, log_path, log_relpath, records, referenced, texts_referenced)
    problems.extend(_unlisted(bag_root, records, referenced, texts_referenced))
    return [_tidy(p) for p in problems]


def _check_lines(
    bag_root: Path,
    log_path: Path,
    log_relpath: str,
    records: Mapping[str, IndexedRecord],
    referenced: set[str],
    texts_referenced: set[str],
) -> list[Problem]:
    """Each line: JSON, an entry of the documented shape, logged once, true to the WARCs."""
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    data = DataDir(bag_root / "data")
    with open(log_path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{log_relpath}:{lineno}"
            try:
                entry = json.loads(raw)
            except ValueError as err:
                problems.append(Problem("capture-log-bad-json", where, f"not JSON: {err}"))
                continue
            if not isinstance(entry, dict):
                problems.append(Problem("capture-log-bad-entry", where, "entry is not an object"))
                continue
            url = entry.get("url")
            if isinstance(url, str) and not entry.get("imported"):  # imported: one per record
                if url in first_line_of:
                    problems.append(
                        Problem(
                            "capture-log-duplicate-url",
                            where,
                            f"{url} is logged again (first at line {first_line_of[url]})",
                        )
                    )
                else:
                    first_line_of[url] = lineno
            found = list(_check_entry(data, entry, where, records, referenced))
            for part in third_party_refs(entry):  # lookups kept as evidence (docs/witnesses.md)
                found.extend(_check_refs(part, where, str(url), records, referenced))
            problems.extend(found)
            if not any(p.code == "capture-log-bad-entry" for p in found):
                problems.extend(_check_shape(entry, where))
            text = entry.get("text")
            if isinstance(text, dict):
                for key in ("path", "sidecar"):
                    if isinstance(text.get(key), str):
                        texts_referenced.add(text[key])
    return problems


def _unlisted(
    bag_root: Path,
    records: Mapping[str, IndexedRecord],
    referenced: set[str],
    texts_referenced: set[str],
) -> list[Problem]:
    """Response records and text files that no entry names."""
    problems: list[Problem] = []
    for record_id, rec in records.items():
        if rec.type == "response" and record_id not in referenced:
            problems.append(
                Problem(
                    "capture-log-unlisted-record",
                    f"data/warcs/{rec.warc_file}",
                    f"response record {record_id} for {rec.target_uri} is not in the capture log",
                    "warning",
                )
            )
    text_dir = bag_root / "data" / "text"
    if text_dir.is_dir():
        for p in sorted(text_dir.iterdir()):
            rel = p.relative_to(bag_root / "data").as_posix()
            if p.is_file() and rel not in texts_referenced:
                problems.append(
                    Problem(
                        "capture-log-unlisted-text",
                        f"data/{rel}",
                        "text file is not named by any capture-log entry",
                    )
                )
    return problems


_MAX_MESSAGE = 600


def _tidy(p: Problem) -> Problem:
    """One line, bounded: messages quote URLs from the log, which may be 100 KB or forged."""
    message = one_line(p.message)
    if len(message) > _MAX_MESSAGE:
        message = f"{message[:_MAX_MESSAGE]}... ({len(message)} characters)"
    return Problem(p.code, one_line(p.path)[:_MAX_MESSAGE], message, p.severity)


def _check_shape(entry: dict[str, Any], where: str) -> list[Problem]:
    """The line read as the one typed entry capture writes; a damaged or forged field is named.

    A warning: the checks against the WARC records above decide whether the log can be trusted
    as an index; a field of the wrong shape elsewhere (a count, a note) does not move evidence.
    """
    try:
        CaptureEntry.from_json(entry)
    except EntryShapeError as err:
        return [
            Problem("capture-log-bad-entry", where, f"not a capture-log entry: {err}", "warning")
        ]
    return []


def _check_entry(
    data: DataDir,
    entry: dict[str, Any],
    where: str,
    records: Mapping[str, IndexedRecord],
    referenced: set[str],
) -> Iterable[Problem]:
    missing = [k for k in REQUIRED_FIELDS if k not in entry]
    if missing:
        yield Problem("capture-log-bad-entry", where, f"missing field(s): {', '.join(missing)}")
        return
    wrong = _wrong_shapes(entry)
    if wrong:
        yield Problem("capture-log-bad-entry", where, f"wrong type of value: {', '.join(wrong)}")
        return
    if entry["outcome"] not in OUTCOMES:
        yield Problem("capture-log-bad-entry", where, f"unknown outcome {entry['outcome']!r}")
    url = entry["url"]
    yield from _check_refs(entry, where, url, records, referenced)
    found = [records[r["record_id"]] for r in entry["records"] if r.get("record_id") in records]
    if len(found) == len(entry["records"]):  # missing records are reported above, once
        yield from _check_facts(entry, where, url, found)
    responses = [r for r in found if r.type == "response"]
    last_response = responses[-1] if responses else None
    logged_sha = entry.get("payload_sha256")
    if (
        logged_sha
        and last_response is not None
        and last_response.payload_sha256
        and last_response.payload_sha256 != logged_sha
    ):
        yield Problem(
            "capture-log-payload-mismatch",
            where,
            f"{url}: payload sha256 in the log differs from the WARC record's payload digest",
        )
    text = entry.get("text")
    if isinstance(text, dict):
        yield from _check_text(data, text, where, url)


def _check_refs(
    entry: dict[str, Any],
    where: str,
    url: str,
    records: Mapping[str, IndexedRecord],
    referenced: set[str],
) -> Iterable[Problem]:
    """Each record the entry names is in a WARC of the bag, where and of the type it says."""
    for ref in entry.get("records") or []:
        rid = ref.get("record_id")
        rec = records.get(rid) if isinstance(rid, str) else None
        if rec is None:
            yield Problem(
                "capture-log-record-missing",
                where,
                f"{url}: record {rid} ({ref.get('type')}) is not in any WARC of the bag",
            )
            continue
        referenced.add(rid)
        if ref.get("warc_file") != rec.warc_file or ref.get("offset") != rec.offset:
            yield Problem(
                "capture-log-record-moved",
                where,
                f"{url}: record {rid} is at {rec.warc_file}@{rec.offset}, "
                f"log says {ref.get('warc_file')}@{ref.get('offset')}",
            )
        if ref.get("type") != rec.type:
            yield Problem(
                "capture-log-record-type",
                where,
                f"{url}: record {rid} is a {rec.type} record, log says {ref.get('type')}",
            )


def _check_facts(
    entry: dict[str, Any], where: str, url: str, recs: list[IndexedRecord]
) -> Iterable[Problem]:
    """The log's facts (URLs, status, outcome) must be what the WARC records themselves say.

    The robots.txt fetch of a site is logged with the first URL the run met there, ahead of
    that URL's own records; those records say nothing about the page, so they are set aside.
    """
    robots, recs = split_robots_records(url, recs)
    if robots and entry.get("outcome") == "captured" and not recs:
        yield Problem(
            "capture-log-outcome-mismatch",
            where,
            f"{url}: logged as captured but only robots.txt records were written",
        )
        return
    targets = {subject_url(r.target_uri) for r in recs}  # either layout (archiver.warc.targets)
    if recs and url not in targets:
        yield Problem(
            "capture-log-url-mismatch", where, f"{url}: no record of this entry targets this URL"
        )
    finals = ("response", "resource", "revisit") if entry.get("imported") else ("response",)
    responses = [r for r in recs if r.type in finals]  # docs/import.md: what an import lists
    if not responses:
        if entry.get("outcome") in ("captured", "http-error"):
            yield Problem(
                "capture-log-outcome-mismatch",
                where,
                f"{url}: logged as {entry['outcome']} but no response record was written",
            )
        return
    final = responses[-1]
    final_url = entry.get("final_url")
    if final_url and final.target_uri and final_url != final.target_uri:
        yield Problem(
            "capture-log-url-mismatch",
            where,
            f"{url}: final_url {final_url} is not the last response's URI {final.target_uri}",
        )
    status = entry.get("status")
    if final.status is not None and status != final.status:
        yield Problem(
            "capture-log-status-mismatch",
            where,
            f"{url}: logged status {status}, but the WARC response says {final.status}",
        )
    outcome = entry.get("outcome")
    if final.status is not None and final.status < 300:
        expected = {"captured"}
    elif final.status is not None and final.status >= 400:
        expected = {"http-error"}
    else:  # a redirect as the last response: too many redirects, or a loop
        expected = {"failed", "captured", "http-error"}
    if outcome not in expected:
        yield Problem(
            "capture-log-outcome-mismatch",
            where,
            f"{url}: logged as {outcome}, but the final response has status {final.status}",
        )


_SHAPES: dict[str, tuple[type, ...]] = {
    "url": (str,),
    "outcome": (str,),
    "records": (list,),
    "status": (int, type(None)),
    "final_url": (str, type(None)),
    "payload_sha256": (str, type(None)),
    "text": (dict, type(None)),
}
_REF_SHAPES: dict[str, tuple[type, ...]] = {
    "record_id": (str,),
    "type": (str, type(None)),
    "warc_file": (str, type(None)),
    "offset": (int, type(None)),
}


def _wrong_shapes(entry: dict[str, Any]) -> list[str]:
    """Fields whose JSON type is not what a run writes (a forged or damaged line)."""
    wrong = [
        k
        for k, types in _SHAPES.items()
        if k in entry and (not isinstance(entry[k], types) or isinstance(entry[k], bool))
    ]
    refs = entry.get("records")
    for i, ref in enumerate(refs if isinstance(refs, list) else []):
        if not isinstance(ref, dict):
            wrong.append(f"records[{i}]")
            continue
        wrong.extend(
            f"records[{i}].{k}"
            for k, types in _REF_SHAPES.items()
            if not isinstance(ref.get(k), types) or isinstance(ref.get(k), bool)
        )
    text = entry.get("text")
    if isinstance(text, dict):
        wrong.extend(
            f"text.{k}"
            for k in ("path", "sidecar", "sha256")
            if k in text and not isinstance(text[k], (str, type(None)))
        )
    return wrong


class DataDir:
    """The bag's ``data/``, resolved once, with the folders its files are in.

    A log names two files per page in one or two folders: resolving each whole path (a system
    call per component) was most of `verify`'s time on a log of thousands of pages. A folder is
    resolved once; a file's last component is resolved only if it is a symbolic link.
    """

    def __init__(self, root: Path) -> None:
        self.real = root.resolve()
        self._folders: dict[str, Path] = {}

    def inside(self, rel: str) -> Path | None:
        """``data/<rel>`` with every link followed, or None when that leaves ``data/``."""
        head, _, name = rel.rpartition("/")
        if name in ("", ".", ".."):
            target = (self.real / rel).resolve()
        else:
            folder = self._folders.get(head)
            if folder is None:
                folder = self._folders[head] = (self.real / head).resolve()
            target = folder / name
            if target.is_symlink():
                target = target.resolve()
        return target if target.is_relative_to(self.real) else None


def _check_text(data: DataDir, text: dict[str, Any], where: str, url: str) -> Iterable[Problem]:
    for key in ("path", "sidecar"):
        rel = text.get(key)
        if not isinstance(rel, str):
            yield Problem("capture-log-bad-entry", where, f"{url}: text.{key} is missing")
            continue
        target = data.inside(rel)
        if target is None:
            yield Problem("capture-log-unsafe-path", where, f"{url}: text.{key} leaves the bag")
            continue
        if not target.is_file():
            yield Problem("capture-log-text-missing", f"data/{rel}", f"{url}: file is missing")
            continue
        if key == "path" and text.get("sha256"):
            actual = hash_file(target, ("sha256",)).digests["sha256"]
            if actual != text["sha256"]:
                yield Problem(
                    "capture-log-text-mismatch",
                    f"data/{rel}",
                    f"{url}: text differs from the sha256 the capture log recorded",
                )
