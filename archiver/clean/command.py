"""``archiver clean WARC... --out DIR``: re-run the cleaner over existing WARCs.

Useful after a cleaner upgrade, or for WARCs written by other tools (wget, warcprox, pywb,
ArchiveWeb.page...). WARCs are read with the project's own reader (``warc.reader``, the one
``verify`` uses), so whatever ``verify`` reads ``clean`` reads, whole-file gzip included; ARC
files are read through warcio (``warc.arc``). The project's WARC checker reads each
WARC once more, so a text cleaned from a record whose digests fail says so in its sidecar. Only
response/resource records holding HTML or PDF with status 200 are cleaned; revisits carry no
payload of their own and are skipped. Each payload is streamed through a temporary file, so
memory stays bounded whatever the record's size, and cleaned (content-encoding removed, text
extracted) in a worker process under the memory and time caps (``archiver.clean.workers``). A
WARC that cannot be read gives one error line and the other WARCs are still cleaned.

Output: results (the summary, or the ``--json`` report) go to stdout; when any WARC could not
be read, the exit code is 2 and the errors and the summary go to stderr, so a script that reads
stdout never mistakes a failure for a result.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from archiver.base.charset import charset_from_content_type
from archiver.base.contentcoding import UnsupportedEncoding, decode_head
from archiver.base.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import AtomicFile
from archiver.base.mediatypes import cleanable_kind, may_be_cleanable
from archiver.base.timefmt import parse_iso
from archiver.clean.extract import Extraction, unreadable
from archiver.clean.reading import (
    BrokenWarc,
    RecordView,
    arc_views,
    check_start,
    digest_failures,
    header,
    spool_entity,
    warc_views,
)
from archiver.clean.sidecar import SourceRef, TextOutput, write_outputs
from archiver.clean.workers import CleanJob, CleanLimits, CleanPool
from archiver.warc.arc import looks_like_arc
from archiver.warc.sources import FramingProblem


@dataclass
class CleanSummary:
    """What a clean run did; ``errors`` has one line per WARC that could not be read."""

    files_read: int = 0
    files_failed: int = 0
    cleaned: int = 0  # records for which a .txt + .json pair was written
    empty: int = 0  # of those, how many have an empty text (the sidecar says why)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: list[TextOutput] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (``archiver clean --json``)."""
        return {
            "files_read": self.files_read,
            "files_failed": self.files_failed,
            "cleaned": self.cleaned,
            "empty": self.empty,
            "skipped": dict(sorted(self.skipped.items())),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "outputs": [
                {
                    "text": o.text_name,
                    "sidecar": o.sidecar_name,
                    "sha256": o.text_sha256,
                    "path": o.path,
                    "empty": o.empty,
                }
                for o in self.outputs
            ],
        }

    def lines(self) -> list[str]:
        """A short human report (the CLI prints it)."""
        out = [
            f"cleaned {self.cleaned} record(s) from {self.files_read} WARC file(s)"
            f" ({self.empty} with empty text)"
        ]
        if self.skipped:
            parts = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            out.append(f"skipped: {parts}")
        out.extend(self.warnings)
        return out


@dataclass
class _Pending:
    """A record handed to the pool: its text is written when the worker is done, in WARC order."""

    source: SourceRef
    result: Extraction | Future[Extraction]
    notes: list[str] = field(default_factory=list)  # added after cleaning (WARC-Truncated)

    def extraction(self) -> Extraction:
        result = self.result if isinstance(self.result, Extraction) else self.result.result()
        result.notes.extend(self.notes)
        return result


def _screen(record: RecordView) -> tuple[str | None, str | None]:
    """(content type, None) for a record that may hold HTML or PDF, else (None, why skipped).

    Decided without reading (or hashing) the body.
    """
    if record.rec_type == "revisit":
        return None, "revisit"
    if record.rec_type not in ("response", "resource"):
        return None, ""  # request, metadata, warcinfo...: not payloads, not worth a mention
    if record.rec_type == "resource":
        content_type = header(record.headers, "Content-Type")
    elif record.http is None:
        return None, "not an HTTP response"
    elif record.status != "200":
        return None, f"status {record.status or 'unknown'}"
    else:
        content_type = header(record.http, "Content-Type")
    if not may_be_cleanable(content_type):
        return None, "not HTML or PDF"
    return content_type, None


def _prepare_record(
    record: RecordView,
    warc_name: str,
    submit: Callable[[CleanJob, IO[bytes]], Future[Extraction]],
    spool_dir: Path,
) -> _Pending | str:
    """A pending text for a cleanable record (handed to ``submit``), or why it was skipped."""
    content_type, skipped = _screen(record)
    if skipped is not None:
        return skipped
    headers, http = record.headers, record.http
    target_uri = header(headers, "WARC-Target-URI")
    if target_uri:
        target_uri = target_uri.strip("<>")  # wget 1.19 wrote it in angle brackets
    warc_date = header(headers, "WARC-Date")
    record_id = header(headers, "WARC-Record-ID") or ""
    if not record_id:
        return "no WARC-Record-ID"

    spool, payload_sha256, complete = spool_entity(record, spool_dir)
    source = SourceRef(
        warc_file=warc_name,
        record_id=record_id,
        target_uri=target_uri,
        warc_date=warc_date,
        payload_sha256=payload_sha256,
        content_type=content_type,
    )
    if not complete:
        spool.close()
        raise BrokenWarc(f"record {record_id} ends before its Content-Length (truncated file)")
    coding = header(http, "Content-Encoding")
    truncated = header(headers, "WARC-Truncated")
    notes = [f"the record is truncated (WARC-Truncated: {truncated})"] if truncated else []
    try:
        kind = cleanable_kind(decode_head(spool, coding, 1024), content_type)
    except UnsupportedEncoding:
        spool.close()
        kind = cleanable_kind(b"", content_type)
        if kind is None:
            return "not HTML or PDF"
        # Cleaning still-compressed bytes would give garbage; the sidecar says why instead.
        result = unreadable(f"the payload uses content-encoding {coding}", kind)
        return _Pending(source, result, notes)
    if kind is None:
        spool.close()
        return "not HTML or PDF"
    spool.flush()
    job = CleanJob(
        path=spool.name,
        url=target_uri or "",
        content_type=content_type,
        capture_date=parse_iso(warc_date),
        coding=coding,
        http_charset=charset_from_content_type(content_type),
    )
    return _Pending(source, submit(job, spool), notes)


def _clean_file(
    path: Path,
    out_dir: Path,
    summary: CleanSummary,
    seen: set[str],
    submit: Callable[[CleanJob, IO[bytes]], Future[Extraction]],
    spool_dir: Path,
    window: int,
) -> None:
    """Clean one WARC (or ARC): up to ``window`` records are being cleaned at once (one per
    worker and one waiting), and their texts are written in the order of the records."""
    is_arc = looks_like_arc(path)
    failures = {} if is_arc else digest_failures(path)
    pending: deque[_Pending] = deque()
    framing: list[FramingProblem] = []
    try:
        with open(path, "rb") as fh:
            check_start(fh)
        for view in arc_views(path) if is_arc else warc_views(path, framing):
            item = _prepare_record(view, path.name, submit, spool_dir)
            if isinstance(item, str):
                if item:
                    summary.skipped[item] += 1
                continue
            failed = failures.get(item.source.record_id)
            if failed:
                item.notes.append(
                    f"the record's {failed} does not match its bytes: they changed after "
                    "capture (or were recorded wrongly), so this text may not be what was "
                    "served; run `archiver check` on the WARC"
                )
            if item.source.record_id in seen:
                summary.skipped["duplicate record ID"] += 1
                if isinstance(item.result, Future):
                    item.result.cancel()
                continue
            seen.add(item.source.record_id)
            pending.append(item)
            while len(pending) > window:
                _write(pending.popleft(), out_dir, summary)
    finally:
        # Records read before a damaged part of the file are still written.
        while pending:
            _write(pending.popleft(), out_dir, summary)
    if framing:
        summary.warnings.append(
            f"{path}: {len(framing)} record(s) not followed by the blank lines WARC requires "
            "(read anyway; `archiver verify` checks framing)"
        )


def _write(item: _Pending, out_dir: Path, summary: CleanSummary) -> None:
    result = item.extraction()
    try:
        output = write_outputs(result, item.source, lambda name: AtomicFile(out_dir / name))
    except OSError as exc:
        raise ArchiverError(
            f"cannot write to {out_dir}: {exc.strerror or exc}; free space or choose "
            "another --out folder",
            EXIT_RUN_FAILED,
        ) from exc
    summary.outputs.append(output)
    summary.cleaned += 1
    summary.empty += output.empty


def _describe(exc: Exception) -> str:
    """A short, user-facing cause for a WARC that could not be read."""
    if isinstance(exc, BrokenWarc):
        return str(exc)
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    detail = (str(exc).strip().splitlines() or [""])[0][:160]
    # warcio and gzip fail in many ways on a damaged file; name the error but keep one line.
    return f"it is damaged or cut off: {type(exc).__name__}{': ' + detail if detail else ''}"


def clean_warcs(
    paths: list[Path],
    out_dir: Path,
    on_error: Callable[[str], None] | None = None,
    limits: CleanLimits | None = None,
) -> CleanSummary:
    """Clean every HTML/PDF response in ``paths`` into ``out_dir`` (created if missing).

    Records are cleaned one after another (the outputs' order is the WARCs' order) by worker
    processes under ``limits``; a payload that hits a cap gets an empty text and the reason.

    A WARC that cannot be read adds one line to ``summary.errors`` (also passed to
    ``on_error`` as it happens) and the next WARC is cleaned. Raises ``ArchiverError`` only
    when ``out_dir`` cannot be written.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiverError(
            f"cannot create the output folder {out_dir}: {exc.strerror or exc}; "
            "choose another --out folder",
            EXIT_RUN_FAILED,
        ) from exc
    summary = CleanSummary()
    seen: set[str] = set()
    limits = limits or CleanLimits()
    workers = limits.worker_count()
    with (
        CleanPool(limits) as pool,
        ThreadPoolExecutor(workers, thread_name_prefix="clean") as executor,
        tempfile.TemporaryDirectory(prefix="archiver-clean-") as tmp,
    ):

        def clean_then_remove(job: CleanJob, spool: IO[bytes]) -> Extraction:
            try:
                return pool.clean(job)
            finally:
                spool.close()  # a named temporary file: closing removes it

        def submit(job: CleanJob, spool: IO[bytes]) -> Future[Extraction]:
            return executor.submit(clean_then_remove, job, spool)

        for path in map(Path, paths):
            _clean_one_file(path, out_dir, summary, seen, submit, Path(tmp), workers, on_error)
    return summary


def _clean_one_file(
    path: Path,
    out_dir: Path,
    summary: CleanSummary,
    seen: set[str],
    submit: Callable[[CleanJob, IO[bytes]], Future[Extraction]],
    spool_dir: Path,
    window: int,
    on_error: Callable[[str], None] | None,
) -> None:
    """Clean one WARC; an unreadable one adds its error line and the caller goes on."""
    cleaned_before = summary.cleaned
    try:
        _clean_file(path, out_dir, summary, seen, submit, spool_dir, window)
        summary.files_read += 1
    except ArchiverError:
        raise
    except Exception as exc:  # noqa: BLE001
        # warcio raises ArchiveLoadFailed, gzip/zlib errors, ValueError... on broken files;
        # whatever it is, this file is unreadable and the others still get cleaned.
        done = summary.cleaned - cleaned_before
        kept = f"; {done} record(s) before the damage were cleaned" if done else ""
        message = (
            f"{path}: not a readable WARC ({_describe(exc)}){kept}; check or re-fetch the file"
        )
        summary.files_failed += 1
        summary.errors.append(message)
        if on_error:
            on_error(message)


def clean_command(
    warcs: list[Path],
    out: Path,
    *,
    as_json: bool = False,
    echo: Callable[[str], None] = print,
    echo_error: Callable[[str], None] | None = None,
    limits: CleanLimits | None = None,
) -> int:
    """What ``archiver clean`` does after argument parsing: clean, report, return the exit code.

    Exit code 0 when every WARC was read, 2 (EXIT_USAGE) when any could not be. Success: the
    summary (or one JSON object with ``as_json``) goes to ``echo`` (stdout). Failure: one line
    per unreadable WARC, then the summary, go to ``echo_error`` (stderr), so stdout never shows
    "cleaned 0 record(s)" for a command that failed; ``as_json`` still prints its report (which
    lists the errors) to stdout, for scripts.
    """

    def to_stderr(line: str) -> None:
        print(f"archiver: {line}", file=sys.stderr)

    err = echo_error or to_stderr
    summary = clean_warcs([Path(w) for w in warcs], Path(out), limits=limits)
    for error in summary.errors:
        err(error)
    if as_json:
        echo(json.dumps(summary.to_dict(), sort_keys=True, indent=2, ensure_ascii=False))
    else:
        for line in summary.lines():
            (err if summary.files_failed else echo)(line)
    return EXIT_USAGE if summary.files_failed else EXIT_OK


def run_clean(warcs: list[str], out: str, echo: Callable[[str], None] = print) -> int:
    """Same as ``clean_command`` with plain strings (kept for callers written against it)."""
    return clean_command([Path(w) for w in warcs], Path(out), echo=echo)
