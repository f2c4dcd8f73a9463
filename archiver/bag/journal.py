"""A bag's staging folder and its build journal: what is recorded, and recovery after a crash.

The writer stages a bag in a sibling ``.<name>.partial/`` folder. Every payload file's digests
are appended to an fsynced JSON Lines journal outside ``data/`` the moment the file is complete,
so an interrupted build can be reopened (``resume``) without re-reading the payload, and files a
crash cut off can be adopted, discarded or retracted. Building and sealing are in
:mod:`archiver.bag.writer`, which extends :class:`BagStaging`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any, Self

from archiver.bag.paths import check_payload_relpath
from archiver.base.errors import EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import append_synced, fsync_dir
from archiver.base.hashing import DEFAULT_ALGORITHMS, FileDigests, hash_file

JOURNAL_NAME = ".archiver-bag-journal.jsonl"


class BagStaging:
    """The staging folder of one bag being built, and the journal of its recorded payload."""

    def __init__(
        self,
        final_path: str | os.PathLike[str],
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        *,
        _resume: bool = False,
    ) -> None:
        self.final_path = Path(os.path.abspath(final_path))
        self.algorithms = tuple(algorithms)
        if not self.algorithms:
            raise ArchiverError("a bag needs at least one checksum algorithm", EXIT_USAGE)
        self.staging = self.final_path.parent / f".{self.final_path.name}.partial"
        self.data = self.staging / "data"
        self._journal_path = self.staging / JOURNAL_NAME
        self._moved_journal = self.final_path.parent / f".{self.final_path.name}.journal.jsonl"
        self._lock = threading.Lock()
        # path -> (size, the digests as raw bytes, in self.algorithms order): a run of 50,000
        # URLs records 100,000+ files, and hex strings in a dict per file cost 2 KB a URL.
        self._records: dict[str, tuple[int, bytes]] = {}
        self._pending: set[str] = set()
        self._sealed = False
        self.lost: list[str] = []  # journaled files found missing or changed on resume
        if self.final_path.exists():
            raise ArchiverError(
                f"{self.final_path}: a bag already exists there; sealed bags are never "
                "overwritten, choose another name",
                EXIT_USAGE,
            )
        if _resume:
            self._load_journal()
        else:
            if self.staging.exists():
                raise ArchiverError(
                    f"{self.staging}: an unfinished bag is already being built there; "
                    "resume it (BagBuilder.resume) or move it away",
                    EXIT_USAGE,
                )
            try:
                self.final_path.parent.mkdir(parents=True, exist_ok=True)
                self.data.mkdir(parents=True)
            except OSError as e:
                raise ArchiverError(
                    f"{self.staging}: cannot create the bag folder ({e.strerror}); "
                    "check the output directory is writable",
                    EXIT_RUN_FAILED,
                ) from e
            self._append_journal({"algorithms": list(self.algorithms), "bag": self.final_path.name})
            fsync_dir(self.staging)
            fsync_dir(self.final_path.parent)

    # -- resume and recovery ----------------------------------------------------------------
    @classmethod
    def resume(cls, final_path: str | os.PathLike[str]) -> Self:
        """Reopen an interrupted build: its staging folder and every digest it journaled."""
        final = Path(os.path.abspath(final_path))
        staging = final.parent / f".{final.name}.partial"
        if not staging.is_dir():
            raise ArchiverError(
                f"{staging}: no unfinished bag to resume; start a new one instead", EXIT_USAGE
            )
        journal = staging / JOURNAL_NAME
        moved = final.parent / f".{final.name}.journal.jsonl"
        if not journal.exists() and moved.exists():
            os.replace(moved, journal)  # interrupted between moving the journal and renaming
        algorithms = DEFAULT_ALGORITHMS
        for entry in _read_journal(journal):
            if "algorithms" in entry:
                algorithms = tuple(entry["algorithms"])
                break
        return cls(final, algorithms, _resume=True)

    def _load_journal(self) -> None:
        """Take back every journaled digest whose file is still whole; list the rest in ``lost``."""
        if not self._journal_path.exists() and not any(
            kind == "file" for _rel, kind in self._walk_payload()
        ):
            # Interrupted before the first file was written: nothing to lose, start afresh.
            self.data.mkdir(parents=True, exist_ok=True)
            self._append_journal({"algorithms": list(self.algorithms), "bag": self.final_path.name})
            fsync_dir(self.staging)
            return
        if not self._journal_path.exists():
            raise ArchiverError(
                f"{self._journal_path}: the build journal is missing, so the digests of the "
                f"files in {self.data} are unknown; move {self.staging} away and start again",
                EXIT_USAGE,
            )
        for entry in _read_journal(self._journal_path):
            if "removed" in entry:
                self._records.pop(entry["removed"], None)
                continue
            if "path" not in entry:
                continue
            rel = entry["path"]
            digests = FileDigests(int(entry["size"]), dict(entry["digests"]))
            try:
                st = os.lstat(self.data / rel)
                ok = stat.S_ISREG(st.st_mode) and st.st_size == digests.size
            except OSError:
                ok = False
            if ok:
                self._records[rel] = self._pack(digests)
            else:
                self._records.pop(rel, None)
                self.lost.append(rel)

    def unrecorded_files(self) -> list[str]:
        """Payload files on disk with no recorded digests (e.g. cut off by a crash)."""
        found: list[str] = []
        for rel, kind in self._walk_payload():
            if kind == "file" and rel not in self._records and rel not in self._pending:
                found.append(rel)
        return sorted(found)

    def adopt_existing(self, relpath: str) -> FileDigests:
        """Hash a file already in the staging payload and record it (recovery only)."""
        rel = self._claim(relpath)
        try:
            path = self.data / rel
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise ArchiverError(f"{path}: not a regular file", EXIT_USAGE)
            digests = hash_file(path, self.algorithms)
        except BaseException:
            self._release(rel)
            raise
        self._record(rel, digests)
        return digests

    def discard(self, relpath: str) -> None:
        """Remove an unrecorded (incomplete) payload file from the staging folder."""
        rel = self._check(relpath)
        with self._lock:
            if rel in self._records or rel in self._pending:
                raise ArchiverError(f"data/{rel}: recorded payload is never removed", EXIT_USAGE)
        (self.data / rel).unlink(missing_ok=True)

    def retract(self, relpath: str) -> None:
        """Take back a recorded file a crash left orphaned (derived data the run writes again).

        Only before sealing. The journal says so first, so a crash in between leaves an
        unrecorded file, which recovery discards.
        """
        rel = self._check(relpath)
        with self._lock:
            if self._sealed or rel in self._pending:
                raise ArchiverError(f"data/{rel}: cannot be taken back now", EXIT_USAGE)
            self._append_journal({"removed": rel})
            self._records.pop(rel, None)
        (self.data / rel).unlink(missing_ok=True)

    # -- claiming and recording payload ------------------------------------------------------
    def _check(self, relpath: str | os.PathLike[str]) -> str:
        if os.path.isabs(os.fspath(relpath)):  # e.g. a WARC path reported by the WARC writer
            p = Path(os.path.abspath(relpath))
            try:
                relpath = p.relative_to(self.data).as_posix()
            except ValueError:
                raise ArchiverError(
                    f"{p}: not inside the bag's payload folder {self.data}", EXIT_USAGE
                ) from None
        rel = Path(relpath).as_posix() if isinstance(relpath, os.PathLike) else relpath
        reason = check_payload_relpath(rel)
        if reason:
            raise ArchiverError(f"payload path {rel!r} refused: {reason}", EXIT_USAGE)
        return rel

    def _claim(self, relpath: str | os.PathLike[str]) -> str:
        rel = self._check(relpath)
        with self._lock:
            if self._sealed:
                raise ArchiverError(f"{self.final_path}: the bag is sealed", EXIT_USAGE)
            if rel in self._records or rel in self._pending:
                raise ArchiverError(f"data/{rel}: already in the bag", EXIT_USAGE)
            self._pending.add(rel)
        return rel

    def _release(self, rel: str) -> None:
        with self._lock:
            self._pending.discard(rel)

    def _record(self, rel: str, digests: FileDigests) -> None:
        missing = [a for a in self.algorithms if a not in digests.digests]
        if missing:
            self._release(rel)
            raise ArchiverError(
                f"data/{rel}: digests lack {', '.join(missing)}; write it through a "
                "HashingWriter with the bag's algorithms",
                EXIT_USAGE,
            )
        with self._lock:
            self._append_journal(
                {"path": rel, "size": digests.size, "digests": dict(digests.digests)}
            )
            self._records[rel] = self._pack(digests)
            self._pending.discard(rel)

    def _pack(self, digests: FileDigests) -> tuple[int, bytes]:
        return digests.size, b"".join(bytes.fromhex(digests.digests[a]) for a in self.algorithms)

    def _unpack(self, packed: tuple[int, bytes]) -> FileDigests:
        size, raw = packed
        out: dict[str, str] = {}
        at = 0
        for algorithm in self.algorithms:
            n = hashlib.new(algorithm).digest_size
            out[algorithm] = raw[at : at + n].hex()
            at += n
        return FileDigests(size, out)

    def digests_of(self, relpath: str) -> FileDigests | None:
        """The digests recorded for ``data/<relpath>``, or None."""
        with self._lock:
            packed = self._records.get(relpath)
        return self._unpack(packed) if packed is not None else None

    @property
    def recorded(self) -> frozenset[str]:
        """The payload paths recorded so far (a snapshot)."""
        with self._lock:
            return frozenset(self._records)

    # -- sealing ---------------------------------------------------------------------------
    def _walk_payload(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for dirpath, dirnames, filenames in os.walk(self.data):
            base = Path(dirpath).relative_to(self.data).as_posix()
            for name in dirnames + filenames:
                rel = name if base == "." else f"{base}/{name}"
                mode = os.lstat(os.path.join(dirpath, name)).st_mode
                kind = (
                    "dir"
                    if stat.S_ISDIR(mode)
                    else "file"
                    if stat.S_ISREG(mode)
                    else "link"
                    if stat.S_ISLNK(mode)
                    else "special"
                )
                out.append((rel, kind))
        return out

    def _append_journal(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with open(self._journal_path, "ab") as f:
            append_synced(f, line.encode("utf-8"))


def _read_journal(path: Path) -> list[dict[str, Any]]:
    """Journal entries; a torn last line (crash while appending) is ignored."""
    entries: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return entries
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiverError(f"{path}: cannot read the build journal ({e})", EXIT_USAGE) from e
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # torn final append
            raise ArchiverError(
                f"{path}: line {i + 1} of the build journal is damaged; start the bag again",
                EXIT_USAGE,
            ) from None
    return entries


__all__ = ["JOURNAL_NAME", "BagStaging"]
