"""The parallel hashing engine: same digests as hashlib, per-file errors, one result per job."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from archiver.bag.fixity import SPLIT_THRESHOLD, HashJob, hash_files

ALGS = ("md5", "sha256", "sha512")


def test_digests_match_hashlib_for_small_and_split_files(tmp_path: Path) -> None:
    sizes = [0, 1, 2047, 2048, 1024 * 1024, 1024 * 1024 + 1, SPLIT_THRESHOLD + 12345]
    jobs = []
    expected = {}
    for i, size in enumerate(sizes):
        p = tmp_path / f"f{i}"
        data = os.urandom(size)
        p.write_bytes(data)
        jobs.append(HashJob(f"f{i}", str(p), size, ALGS))
        expected[f"f{i}"] = {a: hashlib.new(a, data).hexdigest() for a in ALGS}
    seen: list[str] = []
    hash_files(jobs, workers=1, on_result=lambda r: seen.append(r.job.rel))
    assert seen == [f"f{i}" for i in reversed(range(len(sizes)))]  # largest first
    results = hash_files(jobs, workers=3)
    assert [r.job.rel for r in results] == [j.rel for j in jobs]  # order as given
    for r in results:
        assert r.error is None
        assert r.digests == expected[r.job.rel]
        assert r.size == r.job.size


def test_errors_are_per_file(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(good)
    jobs = [
        HashJob("good", str(good), 1, ("sha256",)),
        HashJob("gone", str(tmp_path / "gone"), 1, ("sha256",)),
        HashJob("link", str(link), 1, ("sha256",)),  # O_NOFOLLOW: never followed
        HashJob("dir", str(tmp_path), 1, ("sha256",)),
    ]
    results = {r.job.rel: r for r in hash_files(jobs, workers=2)}
    assert results["good"].error is None
    assert all(results[k].error and results[k].digests is None for k in ("gone", "link", "dir"))
