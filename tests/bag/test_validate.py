"""Validator cases the LoC suite lacks: BagIt 1.0 completeness, encodings, path safety."""

from __future__ import annotations

import builtins
import hashlib
import os
from pathlib import Path

import pytest

from archiver.bag.paths import encode_path
from archiver.bag.validate import validate_bag
from archiver.base.errors import ArchiverError
from tests.helpers import REPO

ALGS = ("sha256", "sha512")


def _digest(data: bytes, alg: str) -> str:
    return hashlib.new(alg, data).hexdigest()


def make_bag(root: Path, files: dict[str, bytes], *, bag_info: str | None = None) -> Path:
    """A minimal, correct BagIt 1.0 bag written by hand (independent of our writer)."""
    (root / "data").mkdir(parents=True)
    for rel, data in files.items():
        p = root / "data" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    size = sum(len(d) for d in files.values())
    info = bag_info if bag_info is not None else f"Payload-Oxum: {size}.{len(files)}\n"
    (root / "bag-info.txt").write_bytes(info.encode())
    for alg in ALGS:
        lines = sorted(
            f"{_digest(d, alg)}  {encode_path('data/' + rel)}\n" for rel, d in files.items()
        )
        (root / f"manifest-{alg}.txt").write_text("".join(lines), encoding="utf-8", newline="")
    retag(root)
    return root


def retag(root: Path, extra: tuple[str, ...] = ()) -> None:
    """Rewrite the tag manifests over bagit.txt, bag-info.txt and the payload manifests."""
    names = sorted(
        n
        for n in os.listdir(root)
        if n in ("bagit.txt", "bag-info.txt", "fetch.txt") or n.startswith("manifest-")
    ) + list(extra)
    for alg in ALGS:
        lines = [f"{_digest((root / n).read_bytes(), alg)}  {n}\n" for n in names]
        (root / f"tagmanifest-{alg}.txt").write_text("".join(lines), newline="")


def test_hand_made_bag_is_valid(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"hello", "dir/b.bin": b"\x00" * 5000})
    report = validate_bag(bag)
    assert report.valid and not report.problems, [str(p) for p in report.problems]
    assert report.version == "1.0"
    assert report.files_checked == 2 + 4  # payload + tag files
    assert report.to_dict()["valid"] is True


def test_file_missing_from_one_of_two_manifests(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a", "b.txt": b"b"})
    m = bag / "manifest-sha256.txt"
    m.write_text("".join(line for line in m.read_text().splitlines(True) if "b.txt" not in line))
    retag(bag)
    report = validate_bag(bag)
    assert not report.valid
    [problem] = report.errors
    assert problem.code == "payload-file-not-in-all-manifests"
    assert problem.path == "data/b.txt"
    assert "manifest-sha256.txt" in problem.message


def test_percent_encoded_names(tmp_path: Path) -> None:
    """%25 and %0A in 1.0 manifests decode to '%' and LF, in one pass (%250A is '%0A')."""
    files = {"100%.txt": b"pct", "line\nbreak.txt": b"lf", "cr\r.txt": b"cr", "a%0A": b"lit"}
    bag = make_bag(tmp_path / "bag", files)
    text = (bag / "manifest-sha256.txt").read_text()
    assert "data/100%25.txt" in text and "data/line%0Abreak.txt" in text
    assert "data/a%250A" in text and "data/cr%0D.txt" in text
    report = validate_bag(bag)
    assert report.valid and not report.problems, [str(p) for p in report.problems]


def test_unencoded_percent_name_is_not_decoded_twice(tmp_path: Path) -> None:
    """A manifest naming 'a%0A' literally (not '%250A') means a file 'a<LF>' in 1.0."""
    bag = make_bag(tmp_path / "bag", {"a%0A": b"x"})
    m = bag / "manifest-sha256.txt"
    m.write_text(m.read_text().replace("a%250A", "a%0A"))
    retag(bag)
    report = validate_bag(bag)
    assert "payload-file-missing" in report.codes("error")  # names 'data/a\n', absent
    assert "payload-file-not-in-all-manifests" in report.codes("error")


class _OpenSpy:
    """Record every path opened through os.open and open() while validating."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real_os_open, real_open = os.open, builtins.open

        def spy_os_open(path, *a, **k):  # type: ignore[no-untyped-def]
            self.paths.append(os.path.realpath(path))
            return real_os_open(path, *a, **k)

        def spy_open(file, *a, **k):  # type: ignore[no-untyped-def]
            if isinstance(file, (str, bytes, os.PathLike)):
                self.paths.append(os.path.realpath(file))
            return real_open(file, *a, **k)

        monkeypatch.setattr(os, "open", spy_os_open)
        monkeypatch.setattr(builtins, "open", spy_open)


def test_sibling_prefix_path_is_rejected_and_never_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'../bag-evil/x' beside a bag named 'bag': commonprefix would let it in (bagit-py 1.9)."""
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    evil = tmp_path / "bag-evil"
    evil.mkdir()
    (evil / "x").write_bytes(b"secret")
    for alg in ALGS:
        with open(bag / f"manifest-{alg}.txt", "a") as f:
            f.write(f"{_digest(b'secret', alg)}  ../bag-evil/x\n")
            f.write(f"{_digest(b'secret', alg)}  data/../../bag-evil/x\n")
    retag(bag)
    spy = _OpenSpy(monkeypatch)
    report = validate_bag(bag)
    monkeypatch.undo()
    assert not report.valid
    assert [p.code for p in report.errors] == ["path-unsafe"] * 4
    assert spy.paths and str(evil / "x") not in spy.paths
    assert all(p.startswith(str(bag)) for p in spy.paths)


def test_payload_symlink_to_outside_is_reported_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not evidence")
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a", "link.txt": b"not evidence"})
    (bag / "data" / "link.txt").unlink()
    (bag / "data" / "link.txt").symlink_to(outside)
    (bag / "data" / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    spy = _OpenSpy(monkeypatch)
    report = validate_bag(bag)
    monkeypatch.undo()
    by_code = {(p.code, p.path) for p in report.errors}
    assert ("symlink-in-bag", "data/link.txt") in by_code
    assert ("symlink-in-bag", "data/dirlink") in by_code
    assert ("payload-file-missing", "data/link.txt") in by_code
    assert spy.paths and str(outside) not in spy.paths


@pytest.mark.parametrize(
    "content",
    [
        b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n",  # wrong order
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: line\n",  # extra line
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n\n",  # extra blank line
        b"BagIt-Version:  1.0\nTag-File-Character-Encoding: UTF-8\n",  # two spaces
    ],
    ids=["wrong-order", "extra-line", "extra-blank-line", "double-space"],
)
def test_bagit_txt_must_be_exact(tmp_path: Path, content: bytes) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    (bag / "bagit.txt").write_bytes(content)
    retag(bag)
    report = validate_bag(bag)
    assert "bagit-txt-malformed" in report.codes("error")


def test_bagit_txt_crlf_is_accepted(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n")
    retag(bag)
    assert validate_bag(bag).valid


def test_tagmanifest_listing_a_tagmanifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    sha512 = (bag / "tagmanifest-sha512.txt").read_bytes()
    with open(bag / "tagmanifest-sha256.txt", "a") as f:
        f.write(f"{_digest(sha512, 'sha256')}  tagmanifest-sha512.txt\n")
    report = validate_bag(bag)
    assert [(p.code, p.path) for p in report.errors] == [
        ("tagmanifest-lists-tagmanifest", "tagmanifest-sha256.txt")
    ]


def test_tagmanifest_must_list_every_payload_manifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    for alg in ALGS:
        t = bag / f"tagmanifest-{alg}.txt"
        t.write_text(
            "".join(x for x in t.read_text().splitlines(True) if "manifest-sha512" not in x)
        )
    report = validate_bag(bag)
    assert [p.code for p in report.errors] == ["tagmanifest-missing-manifest"] * 2


def test_tagmanifest_listing_payload(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    with open(bag / "tagmanifest-sha256.txt", "a") as f:
        f.write(f"{_digest(b'a', 'sha256')}  data/a.txt\n")
    assert "tagmanifest-lists-payload" in validate_bag(bag).codes("error")


def test_fetch_txt_checks(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a", "later.txt": b"fetched later"})
    (bag / "data" / "later.txt").unlink()
    (bag / "fetch.txt").write_text(
        "https://example.org/later.txt 13 data/later.txt\n"
        "https://example.org/a.txt many data/a.txt\n"
        "not-a-url - data/a.txt\n"
        "https://example.org/x - bag-info.txt\n"
    )
    retag(bag)
    report = validate_bag(bag)
    codes = report.codes("error")
    assert {"fetch-file-absent", "fetch-length-invalid", "fetch-url-invalid"} <= codes
    assert "fetch-path-outside-data" in codes
    absent = [p for p in report.errors if p.code == "fetch-file-absent"]
    assert [p.path for p in absent] == ["data/later.txt"]
    assert "payload-file-missing" not in codes  # reported once, as a fetch entry


def test_oxum_mismatch_still_hashes_everything(tmp_path: Path) -> None:
    bag = make_bag(
        tmp_path / "bag", {"a.txt": b"aaaa", "b.txt": b"bbbb"}, bag_info="Payload-Oxum: 1.1\n"
    )
    (bag / "data" / "b.txt").write_bytes(b"bbbX")
    report = validate_bag(bag)
    assert {"payload-oxum-mismatch", "payload-checksum-mismatch"} <= report.codes("error")
    assert report.files_checked == 6


def test_fast_mode_checks_structure_without_hashing(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"aaaa", "b.txt": b"bbbb"})
    (bag / "data" / "b.txt").write_bytes(b"bbbX")  # same size: only a hash can tell
    report = validate_bag(bag, fast=True)
    assert report.valid and report.files_checked == 0 and report.to_dict()["mode"] == "fast"
    (bag / "data" / "a.txt").unlink()
    fast = validate_bag(bag, fast=True)
    assert {"payload-file-missing", "payload-oxum-mismatch"} <= fast.codes("error")


def test_lints_are_warnings(tmp_path: Path) -> None:
    files = {
        "Caf\u00e9.txt": b"1",
        "Cafe\u0301.txt": b"2",
        "x/.DS_Store": b"",
        "A.txt": b"3",
        "a.txt": b"4",
    }
    bag = make_bag(tmp_path / "bag", files)
    report = validate_bag(bag)
    assert report.valid, [str(p) for p in report.errors]
    assert {"normalization-collision", "case-collision", "os-junk-file"} <= report.codes("warning")


def test_md5_only_and_no_tagmanifest_warn(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    for name in os.listdir(bag):
        if name.startswith(("tagmanifest-", "manifest-")):
            (bag / name).unlink()
    (bag / "manifest-md5.txt").write_text(f"{_digest(b'a', 'md5')}  data/a.txt\n")
    report = validate_bag(bag)
    assert report.valid
    assert {"manifest-weak-algorithm", "tagmanifest-missing"} <= report.codes("warning")


def test_structural_errors(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a", "d/b.txt": b"b"})
    with open(bag / "manifest-sha256.txt", "a") as f:
        f.write(f"{'0' * 64}  data/d\n")  # a directory
        f.write("zz  data/a.txt\n")  # malformed checksum (and a duplicate)
        f.write("no-separator-line\n")
    (bag / "manifest-sha3_256.txt").write_text(f"{_digest(b'a', 'sha3_256')}  data/a.txt\n")
    (bag / "manifest-foo.txt").write_text("abc  data/a.txt\n")
    (bag / "bag-info.txt").write_bytes(b"\xef\xbb\xbfLabel : value\n  continued\nnocolon\n")
    os.mkfifo(bag / "data" / "pipe")
    report = validate_bag(bag)
    codes = report.codes("error")
    assert {
        "manifest-lists-directory",
        "manifest-checksum-malformed",
        "manifest-duplicate-entry",
        "manifest-line-malformed",
        "manifest-algorithm-unknown",
        "tag-file-bom",
        "bag-info-label-whitespace",
        "bag-info-malformed",
        "special-file-in-bag",
    } <= codes, codes
    assert "manifest-algorithm-name" in report.codes("warning")


def test_missing_data_dir_and_manifests(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    report = validate_bag(bag)
    assert {"payload-dir-missing", "payload-manifest-missing"} <= report.codes("error")


def test_not_a_directory_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiverError, match="not a bag directory") as info:
        validate_bag(tmp_path / "nope")
    assert "\n" not in str(info.value)


def test_many_problems_all_reported(tmp_path: Path) -> None:
    files = {f"f{i}.txt": f"file {i}".encode() for i in range(20)}
    bag = make_bag(tmp_path / "bag", files)
    for i in range(0, 20, 2):
        (bag / "data" / f"f{i}.txt").write_bytes(b"changed!")
    report = validate_bag(bag, processes=3)
    mismatched = {p.path for p in report.errors if p.code == "payload-checksum-mismatch"}
    assert mismatched == {f"data/f{i}.txt" for i in range(0, 20, 2)}


def test_every_problem_code_is_documented() -> None:
    """docs/bagit.md lists every code the validator and profile check can emit."""
    import re

    repo = REPO
    source = "".join(
        (repo / "archiver" / "bag" / n).read_text() for n in ("validate.py", "tagfiles.py")
    )
    codes = set(re.findall(r'Problem\(\s*"([a-z0-9-]+)"', source))
    codes |= set(re.findall(r'self\.add\(\s*"([a-z0-9-]+)"', source))
    profile_src = (repo / "archiver" / "bag" / "profile.py").read_text()
    codes |= {"profile-" + c for c in re.findall(r'add\(\s*"([a-z0-9-]+)"', profile_src)}
    codes |= {
        f"profile-{k}-{r}" for k in ("manifests", "tag-manifests") for r in ("required", "allowed")
    }
    assert len(codes) > 60
    docs = (repo / "docs" / "bagit.md").read_text()
    missing = sorted(c for c in codes if f"`{c}`" not in docs)
    assert not missing


def _gap_missing_from_one(bag: Path) -> None:
    m = bag / "manifest-sha256.txt"
    m.write_text("".join(x for x in m.read_text().splitlines(True) if "b.txt" not in x))


def _gap_sibling(bag: Path) -> None:
    evil = bag.parent / "bag-evil"
    evil.mkdir()
    (evil / "x").write_bytes(b"secret")
    for alg in ALGS:
        with open(bag / f"manifest-{alg}.txt", "a") as f:
            f.write(f"{_digest(b'secret', alg)}  ../bag-evil/x\n")


def _gap_bagit_order(bag: Path) -> None:
    (bag / "bagit.txt").write_bytes(b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n")


def _gap_fetch_length(bag: Path) -> None:
    (bag / "fetch.txt").write_text("https://example.org/a many data/a.txt\n")


@pytest.mark.parametrize(
    ("tamper", "files", "ours_valid"),
    [
        (_gap_missing_from_one, {"a.txt": b"a", "b.txt": b"b"}, False),
        (_gap_sibling, {"a.txt": b"a"}, False),
        (_gap_bagit_order, {"a.txt": b"a"}, False),
        (_gap_fetch_length, {"a.txt": b"a"}, False),
        (None, {"100%.txt": b"a"}, True),  # bagit.py 1.9.0 rejects a correct %25 (#157)
    ],
    ids=["missing-from-one-manifest", "sibling-prefix", "bagit-txt-order", "fetch-length", "pct25"],
)
def test_bagit_python_gaps_we_close(tamper, files, ours_valid, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Differential check: on each of these bagit-python 1.9.0 is wrong and we are right."""
    import logging

    import bagit

    bag = make_bag(tmp_path / "bag", files)
    if tamper is not None:
        tamper(bag)
        retag(bag)
    assert validate_bag(bag).valid is ours_valid
    logging.disable(logging.CRITICAL)
    try:
        bagit.Bag(str(bag)).validate()
        peer_valid = True
    except bagit.BagError:
        peer_valid = False
    finally:
        logging.disable(logging.NOTSET)
    assert peer_valid is not ours_valid
