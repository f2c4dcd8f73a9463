"""manifests/ (what a reader of the repo sees) and the packaged copies must never drift apart."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REPO


@pytest.mark.parametrize(
    "name",
    [
        "archiver-bagit-profile.json",
        "archiver-bagit-profile-1.0.json",
        "aptrust-bagit-profile.json",
        "btr-bagit-profile.json",
        "capture-log.schema.json",
    ],
)
def test_packaged_copy_is_identical(name: str) -> None:
    assert (REPO / "archiver" / "schemas" / name).read_bytes() == (
        REPO / "manifests" / name
    ).read_bytes()


def test_profile_identifier_matches_what_bags_declare() -> None:
    from archiver.bag.profile import PROFILE_IDENTIFIER

    profile = json.loads((REPO / "manifests" / "archiver-bagit-profile.json").read_text())
    assert profile["BagIt-Profile-Info"]["BagIt-Profile-Identifier"] == PROFILE_IDENTIFIER


def test_capture_log_schema_is_valid_json_schema() -> None:
    schema = json.loads((REPO / "manifests" / "capture-log.schema.json").read_text())
    assert schema["$schema"].startswith("https://json-schema.org/draft/2020-12")
    for field in ("url", "outcome", "started", "ended", "records", "citations"):
        assert field in schema["properties"], field
