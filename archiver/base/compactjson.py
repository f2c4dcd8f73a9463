"""Compact JSON text (keys sorted, UTF-8 kept, no spaces), exactly as ``json.dumps`` writes it.

Every URL a run captures writes such text twice (its journal line and its provenance record),
and ``json.dumps`` with these options builds an encoder for each call. ``compact`` reuses one
C encoder, and :class:`EncodedFacts` encodes the run-wide facts of the provenance records (the
larger part of each) once. tests/base/test_compactjson.py holds both to ``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

_OPTIONS: dict[str, Any] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}


def _unencodable(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


# json's own C encoder, as json.dumps(**_OPTIONS) makes it (without its check for circular
# references: what is written here is built afresh from plain values).
_ENCODER = (
    c_make_encoder(None, _unencodable, encode_basestring, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def compact(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``."""
    if _ENCODER is None:  # pragma: no cover - a Python without json's C speedups
        return json.dumps(value, **_OPTIONS)
    return "".join(_ENCODER(value, 0))


class EncodedFacts(Mapping[str, Any]):
    """Facts that join many JSON objects (``{**per_item, **facts}``), each member encoded once.

    The facts are copied when wrapped; an item that shares a key with them is encoded whole.
    """

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self._facts = dict(facts)
        self._members = {k: f"{compact(k)}:{compact(v)}" for k, v in self._facts.items()}
        self._layouts: dict[tuple[str, ...], list[str | tuple[str, ...]]] = {}

    def __getitem__(self, key: str) -> Any:
        return self._facts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

    def joined(self, item: Mapping[str, Any]) -> str:
        """``compact({**item, **self})`` for an ``item`` none of whose keys is a fact's."""
        keys = tuple(item)
        layout = self._layouts.get(keys)
        if layout is None:
            if not self._facts.keys().isdisjoint(keys):  # the facts would win: as dumps does
                return compact({**item, **self._facts})
            layout = self._layout(keys)
            if len(self._layouts) < 64:  # items of a few shapes; never an unbounded cache
                self._layouts[keys] = layout
        parts = []
        for piece in layout:
            if isinstance(piece, str):  # a fact, encoded already
                parts.append(self._members[piece])
            else:  # the item's keys that sort between two facts: "{...}" without its braces
                parts.append(compact({k: item[k] for k in piece})[1:-1])
        return "{" + ",".join(parts) + "}"

    def _layout(self, keys: tuple[str, ...]) -> list[str | tuple[str, ...]]:
        """The sorted keys, the item's consecutive ones grouped, each fact on its own."""
        layout: list[str | tuple[str, ...]] = []
        run: list[str] = []
        for key in sorted([*keys, *self._facts]):
            if key in self._facts:
                if run:
                    layout.append(tuple(run))
                    run = []
                layout.append(key)
            else:
                run.append(key)
        if run:
            layout.append(tuple(run))
        return layout


__all__ = ["EncodedFacts", "compact"]
