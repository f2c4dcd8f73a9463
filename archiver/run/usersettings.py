"""The operator's own settings file: what this person, on this machine, agrees to.

A collection.toml may come from anyone; this file comes from the operator. It is read from
``$ARCHIVER_CONFIG``, else ``$XDG_CONFIG_HOME/archiver/settings.toml``, else
``~/.config/archiver/settings.toml`` (format in docs/cli.md). It can give the operator's
identity, any capture setting a collection's ``[capture]`` table accepts, ``allow_private``, and
``trust_collection_settings`` (consent to the trust-changing settings of collection files), and
the operator's default ``[[tsa]]`` tables. ``archiver init`` (``archiver.run.init``) writes it.
"""

from __future__ import annotations

import difflib
import stat
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archiver.attest.tsa import TsaConfig, tsas_from_table
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.settings import SIZE_KEYS, Settings, parse_size
from archiver.base.userconfig import ENV_VAR, settings_path
from archiver.collect.trust import expected, fits

_OWN_KEYS = {"trust_collection_settings", "tsa"}


@dataclass(frozen=True)
class UserSettings:
    """The parsed file; ``settings`` holds the Settings fields it sets, nothing else."""

    path: Path | None = None  # None: no file
    settings: dict[str, Any] = field(default_factory=dict)
    trust_collection_settings: bool = False
    tsa_tables: list[dict[str, Any]] = field(default_factory=list)  # the [[tsa]] tables


def load_user_settings(env: dict[str, str] | None = None) -> UserSettings:
    """Read and check the file; none at the default place is fine, a broken one is an error."""
    path, explicit = settings_path(env)
    if not path.exists():
        if explicit:
            _fail(path, f"no such file (named by {ENV_VAR}); create it or unset {ENV_VAR}")
        return UserSettings()
    if path.is_file() and path.stat().st_mode & stat.S_IWOTH:
        # Anyone who can write it could consent to a collection's proxy or open the intranet.
        _fail(path, f"is writable by every user of this machine; run `chmod o-w {path}`")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:  # the message carries "(at line L, column C)"
        _fail(path, f"invalid TOML: {err}; fix the syntax (see docs/cli.md)")
    except UnicodeDecodeError:
        _fail(path, "is not UTF-8 text; save it as UTF-8")
    except OSError as err:
        _fail(path, f"cannot be read ({err.strerror}); check its permissions")

    hints = typing.get_type_hints(Settings)
    allowed = {f.name for f in fields(Settings)} | _OWN_KEYS
    values: dict[str, Any] = {}
    trust = False
    tsa_tables: list[dict[str, Any]] = []
    for key, value in raw.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see docs/cli.md for the keys"
            _fail(path, f"unknown key '{key}'; {hint}")
        if key == "trust_collection_settings":
            if not isinstance(value, bool):
                _fail(path, f"'{key}' must be true or false")
            trust = value
            continue
        if key == "tsa":
            if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
                _fail(path, "'tsa' must be [[tsa]] tables: name, url, roots = [\"root.pem\"]")
            tsa_tables = value
            continue
        if key in SIZE_KEYS and isinstance(value, str):
            try:
                value = parse_size(value)
            except ValueError as err:
                _fail(path, f"'{key}': {err}")

        if not fits(value, hints[key]):
            _fail(path, f"'{key}' has the wrong type; {expected(hints[key])}")
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            _fail(path, f"'{key}' = {value} is negative; give 0 or more")
        values[key] = value
    if values.get("respect_robots") is False and not values.get("robots_override_reason"):
        _fail(path, 'respect_robots = false needs robots_override_reason = "..." saying why')
    return UserSettings(path, values, trust, tsa_tables)


def user_tsas() -> list[TsaConfig]:
    """The operator's default TSAs (``[[tsa]]`` in the settings file; roots relative to it)."""
    user = load_user_settings()
    if not user.tsa_tables or user.path is None:
        return []
    return tsas_from_table(user.tsa_tables, base=user.path.parent)


def _fail(path: Path, what: str) -> typing.NoReturn:
    raise ArchiverError(f"{path}: {what}", EXIT_USAGE)
