"""Bags sealed before archiver's own records moved to ``urn:x-archiver:`` targets still verify.

The fixture's provenance and failure records target the page URL (the earlier layout); the
capture-log cross-check must still tie them to their entries (archiver.warc.targets).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from archiver.warc.reader import iter_records
from tests.helpers import DATA, archiver, capture_log

OLD_BAG = DATA / "bags" / "old-layout"


def test_fixture_is_the_earlier_layout() -> None:
    (warc,) = sorted((OLD_BAG / "data" / "warcs").glob("*.warc.gz"))
    targets = {r.target_uri for r in iter_records(warc) if r.type == "metadata"}
    assert targets and not any(t and t.startswith("urn:") for t in targets)


def test_old_layout_bag_still_verifies(tmp_path: Path) -> None:
    bag = tmp_path / "old-layout"
    shutil.copytree(OLD_BAG, bag)
    proc = archiver("verify", str(bag))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALID" in proc.stdout and "capture-log" not in proc.stdout
    outcomes = {e["outcome"] for e in capture_log(bag)}
    assert {"captured", "failed", "http-error"} <= outcomes
