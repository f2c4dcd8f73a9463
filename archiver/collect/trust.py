"""Which capture settings a collection file may set: trust in a file someone else wrote."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.base.settings import (
    COLLECTION_CEILING_KEYS,
    COLLECTION_FLOOR_KEYS,
    COLLECTION_TRUSTED_KEYS,
    OPERATOR_ONLY_KEYS,
    Settings,
)


@dataclass(frozen=True)
class CaptureDecision:
    """Which ``[capture]`` keys (and ``[[tsa]]``) a run takes from a collection, and why not."""

    applied: dict[str, Any]
    ignored_trust: list[str]  # change what is trusted: need the operator's consent
    ignored_limits: list[str]  # raise a limit / lower politeness beyond the default
    ignored_operator_only: list[str]  # never from a collection
    tsa_ignored: bool = False

    def warnings(self, toml_path: Path | str) -> list[str]:
        """One line per kind of ignored setting, naming each key."""
        lines = []
        trust = self.ignored_trust + (["[[tsa]]"] if self.tsa_ignored else [])
        if trust:
            lines.append(
                f"{toml_path}: ignoring [capture] {', '.join(trust)} (settings that change what "
                "is trusted; pass --trust-collection-settings to use them)"
            )
        if self.ignored_limits:
            lines.append(
                f"{toml_path}: ignoring [capture] {', '.join(self.ignored_limits)} (beyond the "
                "default limits; pass --trust-collection-settings to use them)"
            )
        if self.ignored_operator_only:
            lines.append(
                f"{toml_path}: ignoring [capture] {', '.join(self.ignored_operator_only)} (only "
                "the operator can set it: --allow-private or the user settings file)"
            )
        return lines

    def record(self) -> str:
        """One line for the warcinfo record: what the collection file changed, what it did not."""
        applied = ", ".join(f"{k}={toml_value(v)}" for k, v in sorted(self.applied.items()))
        ignored = (
            self.ignored_trust
            + (["[[tsa]]"] if self.tsa_ignored else [])
            + self.ignored_limits
            + self.ignored_operator_only
        )
        return f"applied: {applied or '(none)'}; ignored: {', '.join(ignored) or '(none)'}"


def decide_capture(
    overrides: dict[str, Any], *, trusted: bool, has_tsa: bool = False
) -> CaptureDecision:
    """Split a collection's ``[capture]`` table into what applies and what is ignored.

    Without the operator's consent (``trusted``), only settings that cannot change what is
    trusted apply, and limits only in the direction of more caution (see docs/collections.md).
    """
    defaults = Settings()
    applied: dict[str, Any] = {}
    trust: list[str] = []
    limits: list[str] = []
    operator_only: list[str] = []
    for key, value in overrides.items():
        if key in OPERATOR_ONLY_KEYS:
            operator_only.append(key)
        elif trusted:
            applied[key] = value
        elif key in COLLECTION_TRUSTED_KEYS and value != getattr(defaults, key):
            trust.append(key)
        elif _beyond_default(key, value, defaults):
            limits.append(key)
        else:
            applied[key] = value
    return CaptureDecision(
        applied, trust, limits, operator_only, tsa_ignored=has_tsa and not trusted
    )


def _beyond_default(key: str, value: Any, defaults: Settings) -> bool:
    """A limit raised above, or a politeness delay lowered below, the built-in default."""
    if key in COLLECTION_CEILING_KEYS:
        return bool(value > getattr(defaults, key))
    return key in COLLECTION_FLOOR_KEYS and bool(value < getattr(defaults, key))


def fits(value: Any, hint: Any) -> bool:
    allowed = typing.get_args(hint) or (hint,)
    for t in allowed:
        if t is type(None) and value is None:
            return True
        if t is bool and isinstance(value, bool):
            return True
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if t is str and isinstance(value, str):
            return True
    return False


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def expected(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    kinds = [names[t] for t in (typing.get_args(hint) or (hint,)) if t in names]
    return "give " + " or ".join(kinds)
