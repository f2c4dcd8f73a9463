"""Build a BagIt 1.0 bag without ever re-reading its payload, and seal it atomically.

Mirror of :mod:`archiver.bag.reader`: the writer seals, in order, the payload (``data/``), the
payload manifests, ``bag-info.txt`` and the tag manifests over them; the reader reads those same
things back from a sealed bag. The bag is staged in a sibling ``.<name>.partial/`` folder on the
same filesystem and renamed to its final name only when complete, so a crash can never leave
something that looks like a finished bag (bagit-python bags in place). Payload digests are
computed while the payload is written (or copied, or reported by the WARC writer); the staging
folder and its crash journal are :mod:`archiver.bag.journal`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from archiver import SOFTWARE
from archiver.bag.journal import JOURNAL_NAME, BagStaging
from archiver.bag.tagfiles import BAGIT_TXT_1_0, format_bag_info, format_manifest
from archiver.base import faults
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.fsutil import fsync_dir
from archiver.base.hashing import BLOCK_SIZE, FileDigests, HashingWriter, hash_file
from archiver.base.timefmt import day

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_COMPUTED_LABELS = ("payload-oxum",)


def _manifest_label(algorithm: str) -> str:
    """RFC 8493 manifest name for a hashlib algorithm: lower case, alphanumerics only."""
    return "".join(c for c in algorithm.lower() if c.isalnum())


class _PayloadWriter(HashingWriter):
    """A HashingWriter that records its digests in the bag when it is closed cleanly."""

    def __init__(self, builder: BagStaging, relpath: str, path: Path) -> None:
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

    def __exit__(self, *exc: object) -> None:
        if exc and exc[0] is not None:  # left by an exception: the file is incomplete
            self.abort()
        else:
            self.close()


class BagBuilder(BagStaging):
    """Stage payload in ``.<name>.partial/``, then ``seal`` it into a BagIt 1.0 bag.

    ``BagBuilder(path)`` starts a bag and ``BagBuilder.resume(path)`` reopens an interrupted one
    (see :class:`archiver.bag.journal.BagStaging`); payload goes in through ``open_payload``,
    ``add_payload_file`` or ``record_payload``, and ``seal`` finishes it.
    """

    # -- adding payload --------------------------------------------------------------------
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

    # -- sealing ---------------------------------------------------------------------------
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
        self._refuse_unrecorded()
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
        tag_digests.update(self._write_manifests())
        faults.point("seal.manifests")
        tag_digests.update(self._other_tag_files(set(tag_digests)))
        self._write_tag_manifests(tag_digests)
        faults.point("seal.tag-manifests")
        return self._rename_into_place()

    def _refuse_unrecorded(self) -> None:
        """Every payload file must be a recorded regular file: no link, device or stray file."""
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

    def _write_manifests(self) -> dict[str, FileDigests]:
        """One payload manifest per algorithm, from the digests recorded while writing."""
        written: dict[str, FileDigests] = {}
        records = sorted(self._records.items())
        at = 0  # where this algorithm's digest starts in each record's packed bytes
        for algorithm in self.algorithms:
            name = f"manifest-{_manifest_label(algorithm)}.txt"
            n = hashlib.new(algorithm).digest_size
            entries = [(f"data/{rel}", raw[at : at + n].hex()) for rel, (_, raw) in records]
            written[name] = self._write_tag(name, format_manifest(entries))
            at += n
        return written

    def _write_tag_manifests(self, tag_digests: dict[str, FileDigests]) -> None:
        """One tag manifest per algorithm over every other tag file."""
        for algorithm in self.algorithms:
            name = f"tagmanifest-{_manifest_label(algorithm)}.txt"
            entries = [(rel, d.digests[algorithm]) for rel, d in tag_digests.items()]
            self._write_tag(name, format_manifest(entries))

    def _rename_into_place(self) -> Path:
        """Fsync everything, then rename the staging folder to the bag's final name."""
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
            items.append(("Bagging-Date", day()))
        if "bag-software-agent" not in labels:
            items.append(("Bag-Software-Agent", SOFTWARE))
        size = sum(size for size, _ in self._records.values())
        items.append(("Payload-Oxum", f"{size}.{len(self._records)}"))
        return items

    def _write_tag(self, name: str, text: str) -> FileDigests:
        with HashingWriter(self.staging / name, self.algorithms) as w:
            w.write(text.encode("utf-8"))
        assert w.result is not None
        return w.result


__all__ = ["BagBuilder", "JOURNAL_NAME"]
