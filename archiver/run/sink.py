"""Where each capture result goes: the journal, then the cleaner, then the bag."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from archiver.bag.writer import BagBuilder
from archiver.base import faults
from archiver.base.mediatypes import file_kind
from archiver.base.settings import Settings
from archiver.base.timefmt import parse_iso
from archiver.capture.crawl import CaptureResult
from archiver.capture.log import CaptureEntry, EntryLine, Journal, TextError, TextRef, brief
from archiver.capture.witness import Witnesses
from archiver.clean.sidecar import SourceRef, write_outputs
from archiver.clean.workers import CleanJob, CleanPool, reason_code
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan
from archiver.run.progress import RunProgress


class Runner:
    """State of one run while it captures; callbacks arrive on worker threads."""

    def __init__(self, plan: RunPlan, settings: Settings, options: RunOptions) -> None:
        self.plan = plan
        self.settings = settings
        self.options = options
        self.lock = threading.Lock()
        self.progress: RunProgress | None = None
        self.builder: BagBuilder | None = None
        self.journal: Journal | None = None
        self.text_errors = 0
        self.pool: CleanPool | None = None
        self.witnesses: Witnesses | None = None  # third-party lookups (docs/witnesses.md)
        if settings.clean:
            # Worker processes with memory and time caps; no lock: captures and cleaning overlap.
            self.pool = CleanPool(options.clean_limits)

    def close(self) -> None:
        """Stop the cleaning workers (called once capture has ended, on every path)."""
        if self.pool is not None:
            self.pool.close()
        if self.witnesses is not None:
            self.witnesses.close()

    def on_result(self, result: CaptureResult) -> None:
        entry = result.entry
        if self.witnesses is not None:  # a fetched memento comes back here, journaled first
            entry = self.witnesses.annotate(entry, self.on_result)
        if (
            self.pool is not None
            and result.payload_path is not None
            and result.response_record is not None
            and entry.outcome == "captured"
            and file_kind(result.payload_path, result.content_type) is not None
        ):
            entry = dataclasses.replace(entry, text=self._clean(entry, result))
        assert self.journal is not None
        self.journal.append(entry)
        if self.progress is not None:
            if entry.memento_of is not None:  # a labelled extra capture: the total grows
                self.progress.add_total(1)
            self.progress.url_done(brief(entry))

    def on_line(self, line: EntryLine, fields: dict[str, Any]) -> None:
        """A capture process's result with nothing to clean or look up, as the journal line
        that process made: journaled as it is; ``fields`` (``brief``) are for progress."""
        assert self.journal is not None
        self.journal.append(line)
        if self.progress is not None:
            self.progress.url_done(fields)

    def _clean(self, entry: CaptureEntry, result: CaptureResult) -> TextRef | TextError:
        """Clean in a worker process; a cap that stops it gives an empty text and ``reason``."""
        ref = result.response_record
        assert ref is not None and result.payload_path is not None and self.pool is not None
        try:
            job = CleanJob(
                path=str(result.payload_path),  # decoded body; the worker reads it itself
                url=entry.final_url or entry.url,
                content_type=result.content_type,
                capture_date=parse_iso(result.warc_date or entry.ended),
            )
            extraction = self.pool.clean(job)
            source = SourceRef(
                warc_file=ref.warc_file,
                record_id=ref.record_id,
                target_uri=ref.target_uri or entry.url,
                warc_date=result.warc_date or entry.ended or "",
                payload_sha256=entry.payload_sha256 or "",
                content_type=result.content_type or "",
            )
            builder = self.builder
            assert builder is not None
            out = write_outputs(
                extraction, source, lambda name: builder.open_payload(f"text/{name}")
            )
        except Exception as err:  # cleaning is derived data: never lose a capture over it
            with self.lock:
                self.text_errors += 1
            return TextError(f"{type(err).__name__}: {err}")
        # clean-memory-limit, clean-time-limit, ...: why the text is empty
        return TextRef(
            path=f"text/{out.text_name}",
            sidecar=f"text/{out.sidecar_name}",
            sha256=out.text_sha256,
            reason=reason_code(extraction),
        )


class RunJournal(Journal):
    """The capture journal, with a fault point after each URL is journaled as done."""

    def append(self, entry: CaptureEntry | EntryLine) -> None:
        super().append(entry)
        faults.point("run.url-journaled")
