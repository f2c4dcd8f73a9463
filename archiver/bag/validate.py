"""RFC 8493 validation that reports every problem, per file, with a stable code.

Why our own: bagit-python (the usual tool) stops at the first error, passes a 1.0 bag whose
file is missing from one manifest, accepts malformed bagit.txt and can be steered outside the
bag by a crafted manifest. Here the bag is walked once with ``lstat`` (symlinks are reported,
never followed), manifests are streamed and checked against that walk, and only files the walk
found inside the bag are ever opened. Fixity reads each file once for all its algorithms.
The manifest checks are :mod:`archiver.bag.manifestcheck`; this module composes them with
bagit.txt, fetch.txt, completeness, bag-info, lint and fixity.
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable

from archiver.bag import paths as bagpaths
from archiver.bag.fixity import HashJob, HashResult, hash_files
from archiver.bag.manifestcheck import ManifestChecks
from archiver.bag.report import BagReport
from archiver.bag.tagfiles import excerpt, parse_bag_info, parse_bagit_txt, parse_fetch_line
from archiver.bag.walk import _Manifest, _walk
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.problems import Problem

__all__ = ["BagReport", "validate_bag"]

_SINGLETONS = ("Bagging-Date", "Bag-Size", "Payload-Oxum", "Bag-Group-Identifier", "Bag-Count")
_MAX_BAGIT_TXT = 64 * 1024


class _Validator(ManifestChecks):
    """One validation: the walk, then each check in turn, composed into one report."""

    def __init__(self, root: str, fast: bool, workers: int | None) -> None:
        super().__init__(root)
        self.fast = fast
        self.workers = workers
        self.fetch_paths: dict[str, str] = {}  # path -> length
        self.report = BagReport(root, fast=fast)
        self.on_progress: Callable[[HashResult], None] | None = None

    # -- steps -----------------------------------------------------------------------------
    def run(self) -> BagReport:
        self.walk = _walk(self.root, self.problems)
        self.check_bagit_txt()
        if "data" not in self.walk.dirs:
            self.add("payload-dir-missing", "data", "the bag has no data/ payload directory")
        self.read_manifests()
        self.read_fetch()
        self.check_completeness()
        self.check_tag_manifests()
        self.check_bag_info()
        self.lint()
        if not self.fast:
            self.check_fixity()
        self.report.problems = self.problems
        self.report.version = self.bagit.version_text or None
        self.report.algorithms = sorted({m.algorithm for m in self.manifests if m.algorithm})
        return self.report

    def check_bagit_txt(self) -> None:
        if "bagit.txt" not in self.walk.files:
            self.add("bagit-txt-missing", "bagit.txt", "the bag has no bagit.txt")
            return
        with open(os.path.join(self.root, "bagit.txt"), "rb") as f:
            data = f.read(_MAX_BAGIT_TXT)
        self.bagit = parse_bagit_txt(data, self.problems)
        if self.bagit.version < (1, 0) and self.bagit.version_text:
            self.add(
                "bagit-version-old",
                "bagit.txt",
                f"BagIt {self.bagit.version_text} predates RFC 8493 (1.0)",
                "warning",
            )

    def read_fetch(self) -> None:
        if "fetch.txt" not in self.walk.files:
            return
        for n, text in self.lines("fetch.txt"):
            line = parse_fetch_line(n, text, self.problems)
            if line is None:
                continue
            path, unsafe = self.resolve(line.raw_path)
            if unsafe:
                self.add(
                    "path-unsafe", "fetch.txt", f"line {n}: {excerpt(line.raw_path)!r}: {unsafe}"
                )
                continue
            if not path.startswith("data/"):
                self.add(
                    "fetch-path-outside-data",
                    "fetch.txt",
                    f"line {n}: {excerpt(line.raw_path)!r} is not a payload path",
                )
                continue
            self.fetch_paths[path] = line.length
            for m in self.payload_manifests:
                if path not in m.entries:
                    self.add(
                        "fetch-file-not-in-manifest",
                        path,
                        f"fetch.txt line {n} lists it but {m.rel} does not",
                    )
            if path not in self.walk.files:
                self.add(
                    "fetch-file-absent",
                    path,
                    f"listed in fetch.txt (line {n}) but not yet fetched: the bag is incomplete",
                )
            elif line.length.isdigit() and int(line.length) != self.walk.files[path]:
                self.add(
                    "fetch-length-mismatch",
                    path,
                    f"fetch.txt line {n} gives {excerpt(line.length)} bytes, the file has "
                    f"{self.walk.files[path]}",
                    "warning",
                )

    def check_completeness(self) -> None:
        missing: dict[str, list[str]] = defaultdict(list)
        for m in self.manifests:
            for path in m.entries:
                if path not in self.walk.files:
                    missing[path].append(m.rel)
        for path, where in sorted(missing.items()):
            if path in self.fetch_paths:
                continue  # reported as fetch-file-absent
            names = ", ".join(where)
            if path in self.walk.dirs:
                self.add("manifest-lists-directory", path, f"is a directory, listed in {names}")
            elif path.startswith("data/"):
                self.add("payload-file-missing", path, f"listed in {names} but not in the bag")
            else:
                self.add("tag-file-missing", path, f"listed in {names} but not in the bag")
        payload_manifests = self.payload_manifests
        v10 = self.bagit.version >= (1, 0)
        for path in sorted(f for f in self.walk.files if f.startswith("data/")):
            absent = [m.rel for m in payload_manifests if path not in m.entries]
            if not payload_manifests:
                continue
            if len(absent) == len(payload_manifests):
                self.add("payload-file-unlisted", path, "is in data/ but in no payload manifest")
            elif absent:
                self.add(
                    "payload-file-not-in-all-manifests",
                    path,
                    f"is missing from {', '.join(absent)} (BagIt 1.0: every payload file must "
                    "be in every payload manifest)",
                    "error" if v10 else "warning",
                )

    def check_bag_info(self) -> None:
        info = "bag-info.txt"
        if info not in self.walk.files and self.bagit.version <= (0, 95):
            info = "package-info.txt"  # its name in BagIt 0.93-0.95
        if info not in self.walk.files:
            self.add(
                "payload-oxum-missing",
                info,
                f"no {info} with a Payload-Oxum",
                "warning",
            )
            return
        items = parse_bag_info(self.lines(info), self.bagit.version, self.problems, info)
        counts: dict[str, int] = defaultdict(int)
        for label, _ in items:
            counts[label.lower()] += 1
        for name in _SINGLETONS:
            if counts[name.lower()] > 1:
                self.add(
                    "bag-info-repeated",
                    info,
                    f"{name} appears more than once",
                    "warning",
                )
        oxums = [v for k, v in items if k.lower() == "payload-oxum"]
        if not oxums:
            self.add("payload-oxum-missing", info, "has no Payload-Oxum", "warning")
        payload = [s for f, s in self.walk.files.items() if f.startswith("data/")]
        actual = f"{sum(payload)}.{len(payload)}"
        for value in oxums:
            if not re.fullmatch(r"\d+\.\d+", value):
                self.add(
                    "payload-oxum-malformed",
                    info,
                    f"Payload-Oxum {excerpt(value)!r} is not 'octets.files'",
                )
            elif tuple(int(x) for x in value.split(".")) != (sum(payload), len(payload)):
                self.add(
                    "payload-oxum-mismatch",
                    info,
                    f"Payload-Oxum is {excerpt(value)} but the payload holds {actual} "
                    "(bytes.files)",
                )
        for k, v in items:
            if k.lower() == "bagging-date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                self.add(
                    "bag-info-bagging-date",
                    info,
                    f"Bagging-Date {excerpt(v)!r} is not YYYY-MM-DD",
                    "warning",
                )
            if k.lower() == "bag-count" and not re.fullmatch(r"\d+ of (\d+|\?)", v):
                self.add(
                    "bag-info-bag-count",
                    info,
                    f"Bag-Count {excerpt(v)!r} is not 'N of T'",
                    "warning",
                )

    def lint(self) -> None:
        names: set[str] = {f for f in self.walk.files if f.startswith("data/")}
        for m in self.payload_manifests:
            names.update(m.entries)
        for path in sorted(names):
            if bagpaths.is_os_junk(path):
                self.add("os-junk-file", path, "is an operating-system junk file", "warning")
            if path.startswith("data/") and path.endswith("/bagit.txt"):
                self.add("nested-bag", path, "the payload holds another bag", "warning")
        for code, key, what in (
            ("case-collision", str.casefold, "differ only in letter case"),
            ("normalization-collision", bagpaths.nfc, "differ only in Unicode normalization"),
        ):
            groups: dict[str, set[str]] = defaultdict(set)
            for path in names:
                groups[key(path)].add(path)
            for group in groups.values():
                if len(group) > 1:
                    shown = ", ".join(sorted(repr(p) for p in group))
                    self.add(
                        code,
                        sorted(group)[0],
                        f"{shown} {what}; they collide on some systems",
                        "warning",
                    )

    def check_fixity(self) -> None:
        """Hash every listed file once for all its algorithms; compare as each is hashed.

        Nothing per file is kept after its comparison (not the digests, not a result): memory
        stays flat however many files the bag holds. Problems come out in the same order as
        if every file had been hashed first: unreadable files by path, then mismatches by
        manifest and line.
        """
        algorithms = [m.algorithm for m in self.manifests if m.algorithm is not None]
        order = sorted(set(algorithms))
        wanted: dict[str, int] = {}  # path -> bit set over ``order``: small ints, no objects
        for m in self.manifests:
            if m.algorithm is None:
                continue
            bit = 1 << order.index(m.algorithm)
            for path in m.entries:
                if path in self.walk.files:
                    wanted[path] = wanted.get(path, 0) | bit
        chosen: dict[int, tuple[str, ...]] = {}
        for bits in set(wanted.values()):
            chosen[bits] = tuple(a for i, a in enumerate(order) if bits >> i & 1)
        jobs = [
            HashJob(p, os.path.join(self.root, p), self.walk.files[p], chosen[bits])
            for p, bits in sorted(wanted.items())
        ]
        del wanted
        found: list[tuple[tuple[int, int, int, str], Problem]] = []
        lock = threading.Lock()
        by_manifest = [(i, m, m.algorithm) for i, m in enumerate(self.manifests) if m.algorithm]

        def compare(r: HashResult) -> None:
            """On a hashing thread: this file's verdict, then its digests are dropped."""
            if self.on_progress is not None:
                self.on_progress(r)
            rel = r.job.rel
            if r.error is not None or r.digests is None:
                problem = Problem("file-unreadable", rel, f"cannot read: {r.error}")
                with lock:
                    found.append(((-1, 0, 0, rel), problem))
                return
            wrong = []
            for i, m, algorithm in by_manifest:
                listed = m.lines_of(rel)
                actual = r.digests[algorithm] if listed else ""
                for checksum, n in listed:
                    if checksum != actual:
                        key = (i, listed[0][1], n, rel)
                        wrong.append((key, self._mismatch(m, rel, checksum, n, actual)))
            with lock:
                self.report.files_checked += 1
                self.report.bytes_checked += r.size
                found.extend(wrong)

        hash_files(jobs, self.workers, compare, keep=False)
        self.problems.extend(problem for _, problem in sorted(found, key=lambda f: f[0]))

    def _mismatch(self, m: _Manifest, path: str, checksum: str, n: int, actual: str) -> Problem:
        code = "payload-checksum-mismatch" if m.kind == "payload" else "tag-checksum-mismatch"
        return Problem(
            code,
            path,
            f"{m.algorithm} differs from {m.rel} line {n}: expected "
            f"{excerpt(checksum)}, found {actual}; the file has changed",
        )


def validate_bag(
    path: str | os.PathLike[str],
    *,
    processes: int | None = None,
    fast: bool = False,
    on_progress: Callable[[HashResult], None] | None = None,
) -> BagReport:
    """Check a bag for completeness and (unless ``fast``) fixity; report every problem.

    ``processes`` is the number of hashing threads (default: enough for every core). ``fast``
    checks structure, completeness and Payload-Oxum without hashing: quick, but not a proof.
    """
    root = os.path.realpath(os.fspath(path))
    if not os.path.isdir(root):
        raise ArchiverError(
            f"{os.fspath(path)}: not a bag directory; give the folder that holds bagit.txt",
            EXIT_USAGE,
        )
    validator = _Validator(root, fast, processes)
    validator.on_progress = on_progress
    return validator.run()
