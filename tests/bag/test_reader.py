"""The sealed-bag reader reads only inside the bag."""

from __future__ import annotations

from pathlib import Path

from archiver.bag.reader import bag_info_value, read_bag_info
from tests.tsa import build_bag


def test_bag_info_symlink_is_not_followed(tmp_path: Path) -> None:
    bag = build_bag(tmp_path)
    assert bag_info_value(read_bag_info(bag), "Capture-Start") == "2026-01-01T00:00:00.000000Z"
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("Capture-Start: 2000-01-01T00:00:00Z\n")
    (bag / "bag-info.txt").unlink()
    (bag / "bag-info.txt").symlink_to(outside)
    assert read_bag_info(bag) == []
