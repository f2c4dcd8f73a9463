"""Our BagIt profile: a writer-made bag with the required fields conforms; gaps are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.bag.profile import PROFILE_IDENTIFIER, PROFILE_TAG_FILE, check_profile
from archiver.bag.validate import validate_bag
from archiver.bag.writer import BagBuilder
from archiver.base.errors import ArchiverError
from tests.helpers import REPO

PROFILE = REPO / "manifests" / "archiver-bagit-profile.json"

FULL_INFO = [
    ("Source-Organization", "Example Human Rights Lab"),
    ("Contact-Name", "Researcher 7"),
    ("Contact-Email", "lab@example.org"),
    ("External-Description", "Pages cited in report X"),
    ("External-Identifier", "report-x-20261120T234100Z"),
    ("BagIt-Profile-Identifier", PROFILE_IDENTIFIER),
    ("Capture-Start", "2026-11-20T23:41:00Z"),
    ("Capture-End", "2026-11-20T23:58:42Z"),
]


def make(tmp_path: Path, info: list[tuple[str, str]], with_log: bool = True) -> Path:
    b = BagBuilder(tmp_path / "report-x-20261120T234100Z")
    if with_log:
        with b.open_payload("capture-log.jsonl") as w:
            w.write(b'{"url": "https://example.org/"}\n')
    with b.open_payload("warcs/A.warc.gz") as w:
        w.write(b"\x1f\x8b fake warc")
    (b.staging / PROFILE_TAG_FILE).write_bytes(PROFILE.read_bytes())  # as `archiver run` does
    return b.seal(info)


def test_profile_file_shape() -> None:
    profile = json.loads(PROFILE.read_text())
    assert profile["BagIt-Profile-Info"]["BagIt-Profile-Version"] == "1.4.0"
    assert profile["BagIt-Profile-Info"]["BagIt-Profile-Identifier"] == PROFILE_IDENTIFIER
    assert profile["Accept-BagIt-Version"] == ["1.0"]
    assert profile["Allow-Fetch.txt"] is False
    assert {"sha256", "sha512"} <= set(profile["Manifests-Required"])
    assert {"sha256", "sha512"} <= set(profile["Tag-Manifests-Required"])
    assert "data/capture-log.jsonl" in profile["Payload-Files-Required"]
    required = {k for k, v in profile["Bag-Info"].items() if v.get("required")}
    assert required == {
        "Source-Organization",
        "Contact-Name",
        "Contact-Email",
        "External-Description",
        "External-Identifier",
        "Bagging-Date",
        "Payload-Oxum",
        "Bag-Software-Agent",
        "BagIt-Profile-Identifier",
        "Capture-Start",
        "Capture-End",
    }


def test_writer_bag_with_required_fields_conforms(tmp_path: Path) -> None:
    bag = make(tmp_path, FULL_INFO)
    assert validate_bag(bag).valid
    assert check_profile(bag, PROFILE) == []


def test_missing_field_and_payload_fail(tmp_path: Path) -> None:
    info = [kv for kv in FULL_INFO if kv[0] != "Capture-End"]
    bag = make(tmp_path, info, with_log=False)
    problems = check_profile(bag, PROFILE)
    got = {(p.code, p.path) for p in problems}
    assert ("profile-tag-missing", "bag-info.txt") in got
    assert any("Capture-End" in p.message for p in problems)
    assert ("profile-payload-file-required", "data/capture-log.jsonl") in got
    assert len(problems) == 2


def test_other_profile_rules(tmp_path: Path) -> None:
    info = [kv for kv in FULL_INFO if kv[0] != "BagIt-Profile-Identifier"]
    info += [("BagIt-Profile-Identifier", "urn:other"), ("Capture-Start", "again")]
    bag = make(tmp_path, info)
    (bag / "fetch.txt").write_text("https://example.org/x - data/x\n")
    (bag / "manifest-sha512.txt").rename(bag / "manifest-sha1.txt")
    codes = {p.code for p in check_profile(bag, PROFILE)}
    assert {
        "profile-identifier",
        "profile-tag-value",
        "profile-tag-repeated",
        "profile-fetch-not-allowed",
        "profile-manifests-required",
        "profile-manifests-allowed",
    } <= codes


def test_bad_profile_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{nope")
    with pytest.raises(ArchiverError, match="not a JSON BagIt profile"):
        check_profile(tmp_path, bad)


def test_cross_check_with_bagit_profile_library(tmp_path: Path) -> None:
    """bagit_profile (PyPI) agrees, given the profile as a dict (it never touches the network)."""
    bagit_profile = pytest.importorskip("bagit_profile")
    import bagit

    profile = json.loads(PROFILE.read_text())
    good = make(tmp_path / "good", FULL_INFO)
    checker = bagit_profile.Profile(PROFILE_IDENTIFIER, profile=profile)
    assert checker.validate_serialization(str(good))
    assert checker.validate(bagit.Bag(str(good))), [str(e) for e in checker.report.errors]
    bad = make(tmp_path / "bad", [kv for kv in FULL_INFO if kv[0] != "Contact-Email"])
    checker = bagit_profile.Profile(PROFILE_IDENTIFIER, profile=json.loads(PROFILE.read_text()))
    assert not checker.validate(bagit.Bag(str(bad)))
    assert any("Contact-Email" in str(e) for e in checker.report.errors)
