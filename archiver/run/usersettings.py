"""The operator's own settings file: what this person, on this machine, agrees to.

A collection.toml may come from anyone; this file comes from the operator. It is read from
``$ARCHIVER_CONFIG``, else ``$XDG_CONFIG_HOME/archiver/settings.toml``, else
``~/.config/archiver/settings.toml`` (format in docs/cli.md). It can give the operator's
identity, any capture setting a collection's ``[capture]`` table accepts, ``allow_private``, and
``trust_collection_settings`` (consent to the trust-changing settings of collection files).
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.settings import SIZE_KEYS, Settings, parse_size
from archiver.collect.trust import expected, fits

ENV_VAR = "ARCHIVER_CONFIG"
_OWN_KEYS = {"trust_collection_settings"}


@dataclass(frozen=True)
class UserSettings:
    """The parsed file; ``settings`` holds the Settings fields it sets, nothing else."""

    path: Path | None = None  # None: no file
    settings: dict[str, Any] = field(default_factory=dict)
    trust_collection_settings: bool = False


def settings_path(env: dict[str, str] | None = None) -> tuple[Path, bool]:
    """Where the file is looked for, and whether the operator named it explicitly."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser(), True
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "archiver" / "settings.toml", False


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
    return UserSettings(path, values, trust)


def _fail(path: Path, what: str) -> typing.NoReturn:
    raise ArchiverError(f"{path}: {what}", EXIT_USAGE)
