"""A collection's [[tsa]] URL on a private address is refused before anything is POSTed; a TSA
the operator gave (--tsa, ARCHIVER_TSA) is the operator's choice and is used."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.attest.timestamp import timestamp_bag
from archiver.collect.collection import load_collection
from archiver.run.plan import plan_run
from tests.tsa import LocalTsa, build_bag, start_tsa


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    local = start_tsa(tmp_path_factory.mktemp("tsa") / "alpha", "ec", "alpha")
    yield local
    local.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433"])
def test_collection_tsa_on_private_address_is_refused(tmp_path: Path, tsa: LocalTsa, host: str):
    bag = build_bag(tmp_path)
    url = tsa.url.replace("127.0.0.1", host)
    config = dataclasses.replace(tsa.config, url=url, refuse_private=True)
    before = tsa.server.requests
    [result] = timestamp_bag(bag, [config], timeout=5)
    assert not result.ok and not result.files
    assert "[[tsa]] URL refused" in (result.error or "")
    assert "loopback" in (result.error or "")
    assert tsa.server.requests == before  # nothing was POSTed
    failures = json.loads((bag / "provenance-anchors" / "anchors.json").read_text())["failures"]
    assert "--allow-private" in failures[0]["error"]


def test_operator_tsa_on_loopback_is_used(tmp_path: Path, tsa: LocalTsa):
    bag = build_bag(tmp_path)
    before = tsa.server.requests
    [result] = timestamp_bag(bag, [tsa.config], timeout=30)
    assert result.ok, result.error
    assert tsa.server.requests > before


def test_collection_tsa_tables_are_marked(tmp_path: Path, tsa: LocalTsa):
    folder = tmp_path / "coll"
    folder.mkdir()
    (folder / "root.pem").write_bytes(tsa.root.read_bytes())
    (folder / "collection.toml").write_text(
        '[collection]\nname = "c"\n\n[[tsa]]\nname = "inside"\n'
        f'url = "{tsa.url}"\nroots = ["root.pem"]\n\n[[url]]\nurl = "https://example.org/"\n',
        encoding="utf-8",
    )
    [config] = plan_run([str(folder)], None).tsas
    assert config.refuse_private is True


def test_collection_cannot_allow_private(tmp_path: Path):
    """Even with the operator's consent to collection settings, allow_private is not taken."""
    from archiver.collect.trust import decide_capture

    folder = tmp_path / "coll"
    folder.mkdir()
    (folder / "collection.toml").write_text(
        '[collection]\nname = "c"\n\n[capture]\nallow_private = true\n', encoding="utf-8"
    )
    overrides = load_collection(folder).capture_overrides
    decision = decide_capture(overrides, trusted=True)
    assert "allow_private" not in decision.applied
    assert decision.ignored_operator_only == ["allow_private"]
