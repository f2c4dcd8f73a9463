"""Where the operator's settings file lives, and the identity it gives (readable from any layer).

``archiver.run.usersettings`` reads and checks the whole file for runs; ``archiver init`` writes
it; ``archiver export`` needs only who we are. Place: ``$ARCHIVER_CONFIG``, else
``$XDG_CONFIG_HOME/archiver/settings.toml``, else ``~/.config/archiver/settings.toml``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from archiver.base.errors import EXIT_USAGE, ArchiverError

ENV_VAR = "ARCHIVER_CONFIG"
IDENTITY_KEYS = ("operator", "organisation", "contact_name", "contact_email")


def settings_path(env: dict[str, str] | None = None) -> tuple[Path, bool]:
    """Where the file is looked for, and whether the operator named it explicitly."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser(), True
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "archiver" / "settings.toml", False


def identity() -> dict[str, str]:
    """The identity keys the settings file gives (none: an empty dict)."""
    path, _ = settings_path()
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ArchiverError(f"{path}: cannot read the settings file ({err})", EXIT_USAGE) from None
    return {k: str(raw[k]) for k in IDENTITY_KEYS if isinstance(raw.get(k), str)}


def default_actor() -> str:
    """Who acts when no --actor is given: ARCHIVER_OPERATOR, else the settings file's operator
    or contact name (empty if none: the custody log then says so)."""
    env = os.environ.get("ARCHIVER_OPERATOR", "").strip()
    if env:
        return env
    try:
        who = identity()
    except ArchiverError:
        return ""
    return who.get("operator", "") or who.get("contact_name", "")


def identity_with_environment() -> dict[str, str]:
    """The settings file's identity with ARCHIVER_OPERATOR/_ORGANISATION/_CONTACT on top."""
    who = identity()
    for key, var in (
        ("operator", "ARCHIVER_OPERATOR"),
        ("organisation", "ARCHIVER_ORGANISATION"),
        ("contact_email", "ARCHIVER_CONTACT"),
    ):
        if os.environ.get(var, "").strip():
            who[key] = os.environ[var].strip()
    return who
