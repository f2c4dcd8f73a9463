"""Property test: whatever is done to a real WARC or a small bag, the answer is a verdict.

Hypothesis mutates the WARCs other tools wrote (tests/data/warc) and a small bag holding one
of them: bit flips, truncations, inserted bytes and swapped header lines, on the stored bytes or
inside the gzip layer. Every outcome must be a report (problems with one-line messages) or a
one-line ``ArchiverError``: never an exception, never a hang (each check runs under an alarm),
and never ``warc-check-error`` (the checker's own safety net, which would mean a reader bug).
The number of examples is bounded so the file runs in a few seconds; a handful of real CLI runs
check that the exit codes and stderr stay clean too.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.base.errors import ArchiverError
from archiver.base.problems import Problem
from archiver.verify.report import verify_bag
from archiver.warc.check import check_warc
from tests.helpers import DATA, archiver

WARCS = DATA / "warc"
SEEDS = sorted(p for p in WARCS.glob("*.warc*") if p.stat().st_size < 64 * 1024)
GUARD_SECONDS = 20  # far above any real check of these files: only a hang reaches it
# ARCHIVER_FUZZ_EXAMPLES=5000 explores far longer (run by hand before a release).
FUZZ = settings(
    max_examples=int(os.environ.get("ARCHIVER_FUZZ_EXAMPLES", "100")),
    deadline=10_000,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"no verdict after {seconds} s: the checker hangs")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- mutations ------------------------------------------------------------------------------

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("swap"), st.floats(0, 1), st.floats(0, 1)),
)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in ops:
        if not buf:
            break
        at = min(int(where * len(buf)), len(buf) - 1)
        if kind == "flip":
            buf[at] ^= 1 << arg
        elif kind == "cut":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = arg
        else:  # swap two header lines (or whatever lines sit there)
            lines = bytes(buf).split(b"\r\n")
            i, j = int(where * len(lines)) % len(lines), int(arg * len(lines)) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            buf = bytearray(b"\r\n".join(lines))
    return bytes(buf)


def inner(data: bytes) -> bytes:
    """The decompressed stream of a gzip file (every member), else the bytes themselves."""
    if data[:2] != b"\x1f\x8b":
        return data
    out, rest = [], data
    while rest[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(31)
        out.append(d.decompress(rest))
        rest = d.unused_data
    return b"".join(out)


def assert_one_line(problems: list[Problem]) -> None:
    for p in problems:
        assert p.severity in ("error", "warning"), p
        assert "\n" not in p.message and "\r" not in p.message, p
        assert p.code != "warc-check-error", p  # the checker's safety net caught a reader bug
        assert len(p.message) < 2000, p.code


# -- WARC files ------------------------------------------------------------------------------


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    layer=st.sampled_from(["stored", "inside-gzip", "regzip-whole"]),
    ops=st.lists(mutation, min_size=1, max_size=4),
)
def test_mutated_warc_always_gets_a_verdict(tmp_path: Path, seed: Path, layer: str, ops) -> None:
    data = seed.read_bytes()
    if layer == "stored":
        data = mutate(data, ops)
    elif layer == "inside-gzip":  # damage the records, then store them as one gzip member each
        parts = mutate(inner(data), ops).split(b"WARC/1.")
        data = b"".join(gzip.compress((b"WARC/1." if i else b"") + p) for i, p in enumerate(parts))
    else:
        data = gzip.compress(mutate(inner(data), ops))
    path = tmp_path / f"m.{seed.name}"
    path.write_bytes(data)
    with time_limit(GUARD_SECONDS):
        result = check_warc(path)
    assert_one_line(result.problems)
    assert result.records >= 0


# -- bags -----------------------------------------------------------------------------------


def make_bag(root: Path) -> Path:
    """A small 1.0 bag with a WARC, a capture-log line and both manifest kinds."""
    files = {
        "data/warcs/a.warc.gz": (WARCS / "warcio-example.warc.gz").read_bytes(),
        "data/notes.txt": b"notes\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    size = sum(len(d) for d in files.values())
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {size}.{len(files)}\n")
    (root / "manifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256(d).hexdigest()}  {r}\n" for r, d in sorted(files.items()))
    )
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"]
    (root / "tagmanifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256((root / t).read_bytes()).hexdigest()}  {t}\n" for t in tags)
    )
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bag = make_bag(tmp_path_factory.mktemp("pristine") / "bag")
    assert verify_bag(bag).valid
    return bag


TARGETS = [
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    "data/warcs/a.warc.gz",
    "data/notes.txt",
]


@FUZZ
@given(target=st.sampled_from(TARGETS), ops=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_bag_always_gets_a_verdict(
    tmp_path_factory: pytest.TempPathFactory, pristine: Path, target: str, ops
) -> None:
    bag = tmp_path_factory.mktemp("bag") / "bag"
    shutil.copytree(pristine, bag)
    path = bag / target
    path.write_bytes(mutate(path.read_bytes(), ops))
    try:
        with time_limit(GUARD_SECONDS):
            report = verify_bag(bag, processes=1)
    except ArchiverError as e:  # bad input: a one-line error
        assert "\n" not in str(e)
        return
    assert_one_line(report.problems)
    json.dumps(report.to_dict())  # the --json report can always be written
    if path.read_bytes() != (pristine / target).read_bytes():  # every file is covered
        assert not report.valid or target == "tagmanifest-sha256.txt", report.problems


def capture_log_for(warc: Path) -> tuple[bytes, dict]:
    """A log line per response record of ``warc``, as a run would write, and the WARC index."""
    from archiver.capture.log import dumps_entry
    from archiver.verify.indexed import IndexedRecord
    from tests.capture.helpers import entry

    index = {rid: IndexedRecord(warc.name, *entry) for rid, entry in check_warc(warc).index.items()}
    lines = []
    for rid, rec in index.items():
        if rec.type != "response":
            continue
        ref = {"warc_file": rec.warc_file, "record_id": rid, "type": rec.type}
        ref.update(offset=rec.offset, length=1, target_uri=rec.target_uri)
        line = entry(
            rec.target_uri or "",
            outcome="captured" if (rec.status or 200) < 400 else "http-error",
            status=rec.status,
            started="2020-01-01T00:00:00Z",
            ended="2020-01-01T00:00:01Z",
            records=[ref],
            payload_sha256=rec.payload_sha256,
        )
        lines.append(dumps_entry(line))
    return b"".join(lines), index


@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_capture_log_always_gets_a_verdict(
    tmp_path_factory: pytest.TempPathFactory, ops
) -> None:
    from archiver.verify.capturelog import cross_check

    log, index = capture_log_for(WARCS / "warcio-example.warc.gz")
    bag = tmp_path_factory.mktemp("log")
    (bag / "data").mkdir()
    (bag / "data" / "capture-log.jsonl").write_bytes(log)
    assert cross_check(bag, index) == []
    (bag / "data" / "capture-log.jsonl").write_bytes(mutate(log, ops))
    with time_limit(GUARD_SECONDS):
        problems = cross_check(bag, index)
    assert_one_line(problems)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=6,
)


@FUZZ
@given(
    key=st.sampled_from(["url", "outcome", "status", "records", "payload_sha256", "text", "0"]),
    field=st.sampled_from(["warc_file", "record_id", "type", "offset", None]),
    value=json_value,
)
def test_capture_log_with_wrong_shapes_gets_a_verdict(
    tmp_path_factory: pytest.TempPathFactory, key: str, field: str | None, value: object
) -> None:
    """Well-formed JSON of the wrong shape: a record that is a string, a status that is a list."""
    from archiver.verify.capturelog import cross_check

    log, index = capture_log_for(WARCS / "warcio-example.warc.gz")
    entry = json.loads(log.splitlines()[0])
    if key == "records" and field is not None:
        entry["records"][0][field] = value
    elif key == "0":
        entry = value
    else:
        entry[key] = value
    bag = tmp_path_factory.mktemp("log")
    (bag / "data").mkdir()
    (bag / "data" / "capture-log.jsonl").write_text(json.dumps(entry) + "\n")
    with time_limit(GUARD_SECONDS):
        problems = cross_check(bag, index)
    assert_one_line(problems)


# -- the real CLI, a few times ---------------------------------------------------------------


@pytest.mark.parametrize("n", range(4))
def test_cli_on_mutated_inputs_exits_cleanly(tmp_path: Path, pristine: Path, n: int) -> None:
    rng = random.Random(n)
    seed = SEEDS[n % len(SEEDS)]
    ops = [("flip", rng.random(), rng.randrange(8)), ("insert", rng.random(), b"\r\nWARC/1.0")]
    warc = tmp_path / seed.name
    warc.write_bytes(mutate(seed.read_bytes(), ops))
    bag = tmp_path / "bag"
    shutil.copytree(pristine, bag)
    target = bag / TARGETS[n]
    target.write_bytes(mutate(target.read_bytes(), ops))
    for args in (["check", str(warc)], ["verify", str(bag)], ["check", "--json", str(warc)]):
        proc = archiver(*args, timeout=120)
        assert proc.returncode in (0, 1, 2), proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 1, proc.stderr
