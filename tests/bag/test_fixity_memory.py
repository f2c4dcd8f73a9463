"""Verifying a bag of many files keeps no per-file digests: each file is judged as it is hashed.

A bag of 100,000 small files must verify in flat memory (bench/scale/run.py measures it); here
the number of hashing results alive at once is counted, and the report is the one a validator
that kept every result would give, problems in the same order.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest

from archiver.bag import fixity
from archiver.bag.validate import _Validator, validate_bag
from tests.bag.test_validate import make_bag

FILES = 300


def test_results_are_dropped_once_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_bag(tmp_path / "bag", {f"d/f{i:04d}.txt": b"x%d\n" % i for i in range(FILES)})
    live = most = 0

    def gone() -> None:
        nonlocal live
        live -= 1

    real = fixity._Worker.hash

    def counted(self: fixity._Worker, job: fixity.HashJob) -> fixity.HashResult:
        nonlocal live, most
        result = real(self, job)
        live += 1
        most = max(most, live)
        weakref.finalize(result, gone)
        return result

    monkeypatch.setattr(fixity._Worker, "hash", counted)
    report = validate_bag(bag, processes=1)
    assert report.valid and report.files_checked == FILES + 4
    assert most <= 2, f"{most} hashing results were alive at once"  # before: every one of them


def test_mismatches_come_out_by_manifest_then_line(tmp_path: Path) -> None:
    """Many hashing threads finish in any order; the report's order does not depend on it."""
    bag = make_bag(tmp_path / "bag", {f"f{i:03d}.txt": b"%d\n" % i for i in range(60)})
    for i in (51, 7, 30):
        (bag / "data" / f"f{i:03d}.txt").write_bytes(b"X" * len(b"%d\n" % i))  # same size
    report = validate_bag(bag, processes=8)
    mismatches = [(p.code, p.path, p.message.split()[0]) for p in report.problems]
    changed = {f"data/f{i:03d}.txt" for i in (7, 30, 51)}
    expected = [
        ("payload-checksum-mismatch", path, alg)
        for alg in ("sha256", "sha512")  # manifests by name, then each one's line order
        for path in _listed(bag / f"manifest-{alg}.txt")
        if path in changed
    ]
    assert mismatches == expected


def _listed(manifest: Path) -> list[str]:
    return [line.split("  ", 1)[1] for line in manifest.read_text().splitlines()]


def test_a_failing_judgement_is_raised_not_lost_with_its_thread(tmp_path: Path) -> None:
    """Files judged on hashing threads: an error there must fail the check, never leave the
    rest of the files silently unchecked."""
    for i in range(20):
        (tmp_path / f"f{i}").write_bytes(b"x")
    jobs = [fixity.HashJob(f"f{i}", str(tmp_path / f"f{i}"), 1, ("sha256",)) for i in range(20)]

    def judge(result: fixity.HashResult) -> None:
        raise RuntimeError(f"cannot judge {result.job.rel}")

    with pytest.raises(RuntimeError, match="cannot judge"):
        fixity.hash_files(jobs, 4, judge, keep=False)


def test_manifests_are_held_as_one_small_entry_per_line(tmp_path: Path) -> None:
    """Held for the whole check: per file one (checksum, line) per manifest, no list, and the
    path string shared with the walk rather than one copy per manifest."""
    bag = make_bag(tmp_path / "bag", {f"f{i:03d}.txt": b"%d\n" % i for i in range(50)})
    validator = _Validator(str(bag.resolve()), fast=True, workers=1)
    assert validator.run().valid
    walked = {p: p for p in validator.walk.files}
    payload = validator.payload_manifests
    assert len(payload) == 2
    for m in payload:
        assert len(m.entries) == 50 and not m.more
        assert all(type(v) is tuple for v in m.entries.values())
        assert all(path is walked[path] for path in m.entries)
