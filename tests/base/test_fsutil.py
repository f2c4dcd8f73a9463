"""One atomic-write helper: every rename into place is followed by an fsync of its folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.base import fsutil
from archiver.base.fsutil import write_json_atomic
from archiver.clean.extract import unreadable
from archiver.clean.sidecar import SourceRef, write_outputs


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = fsutil.fsync_dir

    def spy(path: str | Path) -> None:
        calls.append(Path(path))
        real(path)

    monkeypatch.setattr(fsutil, "fsync_dir", spy)
    return calls


def test_run_state_file_rename_is_made_durable(tmp_path: Path, synced: list[Path]) -> None:
    state = tmp_path / "bag.state.json"
    write_json_atomic(state, {"run_id": "r1", "done": 3})
    assert json.loads(state.read_text()) == {"done": 3, "run_id": "r1"}
    assert not (tmp_path / "bag.state.json.tmp").exists()
    assert synced == [tmp_path]


def test_each_clean_output_rename_is_made_durable(tmp_path: Path, synced: list[Path]) -> None:
    source = SourceRef("a.warc.gz", "<urn:uuid:1>", "https://example.org/", "", "", "text/html")
    out = write_outputs(
        unreadable("the payload is empty"),
        source,
        lambda name: fsutil.AtomicFile(tmp_path / name),
    )
    assert (tmp_path / out.text_name).is_file() and (tmp_path / out.sidecar_name).is_file()
    assert not list(tmp_path.glob(".*.tmp"))
    assert synced == [tmp_path, tmp_path]  # one per file, right after its rename
