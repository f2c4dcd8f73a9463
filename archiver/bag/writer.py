"""Build a BagIt 1.0 bag without ever re-reading its payload, and seal it atomically.

The bag is staged in a sibling ``.<name>.partial/`` folder on the same filesystem and renamed
to its final name only when complete, so a crash can never leave something that looks like a
finished bag (bagit-python bags in place). Payload digests are computed while the payload is
written (or copied, or reported by the WARC writer) and appended to an fsynced JSON Lines
journal outside ``data/``; ``BagBuilder.resume`` reopens that journal after an interruption.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import SOFTWARE
from archiver.bag.paths import check_payload_relpath
from archiver.bag.tagfiles import BAGIT_TXT_1_0, format_bag_info, format_manifest
from archiver.base import faults
from archiver.base.errors import EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import fsync_dir
from archiver.base.hashing import (
    BLOCK_SIZE,
    DEFAULT_ALGORITHMS,
    FileDigests,
    HashingWriter,
    hash_file,
)

JOURNAL_NAME = ".archiver-bag-journal.jsonl"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_COMPUTED_LABELS = ("payload-oxum",)


def _manifest_label(algorithm: str) -> str:
    """RFC 8493 manifest name for a hashlib algorithm: lower case, alphanumerics only."""
    return "".join(c for c in algorithm.lower() if c.isalnum())


class _PayloadWriter(HashingWriter):
    """A HashingWriter that records its digests in the bag when it is closed cleanly."""

    def __init__(self, builder: BagBuilder, relpath: str, path: Path) -> None:
        super().__init__(path, builder.algorithms)
        self._builder = builder
        self._relpath = relpath

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = super().write(data)
        if faults.enabled():  # a crash here leaves a text cut off mid-write
            faults.point(f"bag.mid-write.{self._relpath.split('/')[0]}", before=self.flush)
        return n

    def close(self) -> FileDigests:
        already = self.result is not None
        digests = super().close()
        if not already:
            self._builder._record(self._relpath, digests)
            if faults.enabled():
                faults.point(f"bag.recorded.{self._relpath.split('/')[0]}")
        return digests

    def abort(self) -> None:
        """Drop a half-written file: it was never complete, so it is not evidence."""
        if self.result is None:
            self._file.close()
            self.path.unlink(missing_ok=True)
            self._builder._release(self._relpath)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


class BagBuilder:
    """Stage payload in ``.<name>.partial/``, then ``seal`` it into a BagIt 1.0 bag."""

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
        self._records: dict[str, FileDigests] = {}
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

    # -- resume ----------------------------------------------------------------------------
    @classmethod
    def resume(cls, final_path: str | os.PathLike[str]) -> BagBuilder:
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
                self._records[rel] = digests
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

    # -- adding payload --------------------------------------------------------------------
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
            self._records[rel] = digests
            self._pending.discard(rel)

    def _prepare(self, rel: str) -> Path:
        target = self.data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def open_payload(self, relpath: str) -> HashingWriter:
        """Open ``data/<relpath>`` for writing; its digests are recorded when it is closed."""
        rel = self._claim(relpath)
        try:
            return _PayloadWriter(self, rel, self._prepare(rel))
        except FileExistsError:
            self._release(rel)
            raise ArchiverError(f"data/{rel}: a file is already there", EXIT_USAGE) from None
        except BaseException:
            self._release(rel)
            raise

    def add_payload_file(self, relpath: str, source: str | os.PathLike[str]) -> FileDigests:
        """Copy a regular file into ``data/<relpath>``, hashing while copying."""
        not_regular = (
            f"{source}: not a regular file (a symbolic link, directory, device, FIFO or "
            "socket); a bag holds regular files only"
        )
        try:
            st = os.lstat(source)
        except OSError as e:
            raise ArchiverError(
                f"{source}: cannot add to the bag ({e.strerror})", EXIT_USAGE
            ) from None
        if stat.S_ISLNK(st.st_mode):
            raise ArchiverError(f"{source}: is a symbolic link; give the file itself", EXIT_USAGE)
        if not stat.S_ISREG(st.st_mode):
            raise ArchiverError(not_regular, EXIT_USAGE)
        try:  # O_NOFOLLOW/O_NONBLOCK: a swap to a link or FIFO after lstat cannot hang or escape
            fd = os.open(source, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            raise ArchiverError(
                f"{source}: cannot add to the bag ({e.strerror})", EXIT_USAGE
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ArchiverError(not_regular, EXIT_USAGE)
        with os.fdopen(fd, "rb", buffering=0) as src:
            writer = self.open_payload(relpath)
            buf = bytearray(BLOCK_SIZE)
            view = memoryview(buf)
            with writer:
                while n := src.readinto(buf):
                    writer.write(view[:n])
        assert writer.result is not None
        return writer.result

    def record_payload(self, relpath: str | os.PathLike[str], digests: FileDigests) -> None:
        """Record a file written into ``data/`` elsewhere (e.g. a WARC) with its digests."""
        rel = self._claim(relpath)
        try:
            st = os.lstat(self.data / rel)
        except OSError:
            self._release(rel)
            raise ArchiverError(
                f"data/{rel}: not found in {self.data}; write the file before recording it",
                EXIT_USAGE,
            ) from None
        if not stat.S_ISREG(st.st_mode) or st.st_size != digests.size:
            self._release(rel)
            raise ArchiverError(
                f"data/{rel}: is not a regular file of {digests.size} bytes as recorded",
                EXIT_USAGE,
            )
        self._record(rel, digests)

    @property
    def recorded(self) -> dict[str, FileDigests]:
        with self._lock:
            return dict(self._records)

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

    def seal(self, bag_info: list[tuple[str, str]]) -> Path:
        """Write tag files, fsync everything, rename the staging folder to the final name."""
        with self._lock:
            if self._pending:
                raise ArchiverError(
                    f"cannot seal {self.final_path.name}: still being written: "
                    + ", ".join(sorted(self._pending)[:5]),
                    EXIT_USAGE,
                )
            self._sealed = True
        try:
            return self._seal(bag_info)
        except BaseException:
            with self._lock:
                self._sealed = False
            raise

    def _seal(self, bag_info: list[tuple[str, str]]) -> Path:
        info = self._bag_info(bag_info)
        problems = []
        for rel, kind in self._walk_payload():
            if kind in ("link", "special"):
                problems.append(
                    f"data/{rel} is a {'symlink' if kind == 'link' else 'special file'}"
                )
            elif kind == "file" and rel not in self._records:
                problems.append(f"data/{rel} was never recorded")
        if problems:
            raise ArchiverError(
                f"cannot seal {self.final_path.name}: {'; '.join(problems[:5])}; record or "
                "discard them (see BagBuilder.unrecorded_files)",
                EXIT_USAGE,
            )
        for entry in os.listdir(self.staging):  # leftovers of an interrupted seal
            if entry in ("bagit.txt", "bag-info.txt") or (
                entry.endswith(".txt") and entry.startswith(("manifest-", "tagmanifest-"))
            ):
                os.unlink(self.staging / entry)
        faults.point("seal.start")
        tag_digests: dict[str, FileDigests] = {}
        tag_digests["bagit.txt"] = self._write_tag("bagit.txt", BAGIT_TXT_1_0)
        tag_digests["bag-info.txt"] = self._write_tag("bag-info.txt", format_bag_info(info))
        faults.point("seal.bag-info")
        records = sorted(self._records.items())
        for algorithm in self.algorithms:
            name = f"manifest-{_manifest_label(algorithm)}.txt"
            entries = [(f"data/{rel}", d.digests[algorithm]) for rel, d in records]
            tag_digests[name] = self._write_tag(name, format_manifest(entries))
        faults.point("seal.manifests")
        tag_digests.update(self._other_tag_files(set(tag_digests)))
        for algorithm in self.algorithms:
            name = f"tagmanifest-{_manifest_label(algorithm)}.txt"
            entries = [(rel, d.digests[algorithm]) for rel, d in tag_digests.items()]
            self._write_tag(name, format_manifest(entries))
        faults.point("seal.tag-manifests")
        for dirpath, _dirs, _files in os.walk(self.data, topdown=False):
            fsync_dir(dirpath)
        fsync_dir(self.staging)
        # The journal leaves the bag before the rename, but stays findable for resume.
        os.replace(self._journal_path, self._moved_journal)
        fsync_dir(self.staging)
        fsync_dir(self.final_path.parent)
        if self.final_path.exists():  # checked again: never replace a bag that appeared
            os.replace(self._moved_journal, self._journal_path)
            raise ArchiverError(
                f"{self.final_path}: a bag appeared there while sealing; not overwritten",
                EXIT_USAGE,
            )
        faults.point("seal.before-rename")
        os.rename(self.staging, self.final_path)
        fsync_dir(self.final_path.parent)
        faults.point("seal.renamed")
        self._moved_journal.unlink(missing_ok=True)
        fsync_dir(self.final_path.parent)
        return self.final_path

    def _other_tag_files(self, written: set[str]) -> dict[str, FileDigests]:
        """Digests of tag files placed in the staging folder by hand, so none goes unlisted."""
        found: dict[str, FileDigests] = {}
        for dirpath, dirnames, filenames in os.walk(self.staging):
            base = Path(dirpath).relative_to(self.staging).as_posix()
            if base == ".":
                dirnames[:] = [d for d in dirnames if d != "data"]
            for name in filenames:
                rel = name if base == "." else f"{base}/{name}"
                if rel in written or rel == JOURNAL_NAME or rel.startswith("tagmanifest-"):
                    continue
                path = Path(dirpath, name)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    raise ArchiverError(f"{path}: tag files must be regular files", EXIT_USAGE)
                found[rel] = hash_file(path, self.algorithms)
        return found

    def _bag_info(self, given: list[tuple[str, str]]) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        for label, value in given:
            if not label or label != label.strip() or any(c in label for c in ":\r\n"):
                raise ArchiverError(
                    f"bag-info label {label!r} refused: no colon, line break or outer spaces",
                    EXIT_USAGE,
                )
            if any(c in value for c in "\r\n"):
                raise ArchiverError(
                    f"bag-info value for {label} has a line break; give it on one line",
                    EXIT_USAGE,
                )
            if label.lower() in _COMPUTED_LABELS:
                raise ArchiverError(
                    f"bag-info {label} is computed by the bag writer; do not pass it", EXIT_USAGE
                )
            items.append((label, value.strip()))
        labels = {label.lower() for label, _ in items}
        if "bagging-date" not in labels:
            items.append(("Bagging-Date", datetime.now(UTC).strftime("%Y-%m-%d")))
        if "bag-software-agent" not in labels:
            items.append(("Bag-Software-Agent", SOFTWARE))
        size = sum(d.size for d in self._records.values())
        items.append(("Payload-Oxum", f"{size}.{len(self._records)}"))
        return items

    def _write_tag(self, name: str, text: str) -> FileDigests:
        with HashingWriter(self.staging / name, self.algorithms) as w:
            w.write(text.encode("utf-8"))
        assert w.result is not None
        return w.result

    def _append_journal(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with open(self._journal_path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


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


__all__ = ["BagBuilder", "JOURNAL_NAME"]
