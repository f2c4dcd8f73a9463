"""compactjson writes exactly what ``json.dumps(sort_keys=True, ensure_ascii=False,
separators=(",", ":"))`` writes: journal lines and provenance records keep every byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from archiver.base.compactjson import EncodedFacts, compact
from archiver.base.facts import run_facts
from archiver.base.settings import Settings


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


VALUES: list[Any] = [
    None, True, False, 0, -1, 2**70, 1.5, 1e300, -0.0, float("nan"), float("inf"), "", "é",
    "a\"b\\c\n\t\x00\x1f\u2028\ud800", "日本語 🙂", [], {}, [1, [2, [3]]], (1, "x"),
    {"b": 1, "a": {"d": [None, {"z": 0, "y": ""}], "c": "ü"}, "A": [], "é": 1, "_": None},
    {1: "int key", 2: "another"}, {"k": (1, 2)},
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_compact_is_json_dumps(value: Any) -> None:
    assert compact(value) == _dumps(value)


def test_what_json_cannot_encode_is_refused_alike() -> None:
    for value in ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, [object()], {"a": 1, 2: 3}):
        with pytest.raises(TypeError) as ours:
            compact(value)
        with pytest.raises(TypeError) as theirs:
            _dumps(value)
        assert str(ours.value) == str(theirs.value)


def _items(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Items whose keys sort before, between and after the facts', or clash with one."""
    first, last = min(facts), max(facts)
    return [
        {},
        {"type": "archiver/capture-provenance", "version": 1, "target_uri": "https://e.org/"},
        {"": 0, "~": 1, "Z": [1, {"b": 2, "a": 1}]},
        {first + "a": "just after the first fact", last + "z": "after the last"},
        {k + "0": i for i, k in enumerate(facts)},  # one between every two facts
        {"software": "an item's own", "url": "https://e.org/"},  # a fact's key: facts win
        {"ünïcode": "ключ", "dns": {"answers": ["::1"], "host": "e.org"}, "hops": []},
    ]


@pytest.mark.parametrize("with_facts", ["run", "small", "none"])
def test_joined_is_dumps_of_item_and_facts(with_facts: str) -> None:
    facts: dict[str, Any] = {
        "run": run_facts(Settings()),
        "small": {"m": 1, "c": {"z": [1, 2], "a": None}, "x": "é"},
        "none": {},
    }[with_facts]
    encoded = EncodedFacts(facts)
    assert dict(encoded) == facts and len(encoded) == len(facts)
    items = _items(facts) if facts else [{}, {"a": 1, "b": [2]}]
    for _ in range(2):  # the second time through, the layouts come from the cache
        for item in items:
            assert encoded.joined(item) == _dumps({**item, **facts}), item
