"""Where the operator's settings file lives, and the identity it gives (readable from any layer).

``archiver.run.usersettings`` reads and checks the whole file for runs; ``archiver init`` writes
it; ``archiver export`` needs only who we are. Place: ``$ARCHIVER_CONFIG``, else the platform's
place for a user's settings: ``$XDG_CONFIG_HOME/archiver/settings.toml`` (else
``~/.config/archiver/settings.toml``) on Linux and other Unix systems,
``~/Library/Application Support/archiver/settings.toml`` on macOS, and
``%APPDATA%\\archiver\\settings.toml`` on Windows (platformdirs knows those conventions).
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from archiver.base.errors import EXIT_USAGE, ArchiverError

ENV_VAR = "ARCHIVER_CONFIG"
APP = "archiver"
SETTINGS_NAME = "settings.toml"
IDENTITY_KEYS = ("operator", "organisation", "contact_name", "contact_email")


def settings_path(
    env: dict[str, str] | None = None, platform: str = sys.platform
) -> tuple[Path, bool]:
    """Where the file is looked for, and whether the operator named it explicitly."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser(), True
    if platform == "darwin":
        from platformdirs.macos import MacOS

        return Path(MacOS(APP, appauthor=False).user_config_dir) / SETTINGS_NAME, False
    if platform == "win32":
        from platformdirs.windows import Windows

        return Path(Windows(APP, appauthor=False).user_config_dir) / SETTINGS_NAME, False
    # XDG here rather than platformdirs' own, so that ``env`` (tests, init) is what counts.
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP / SETTINGS_NAME, False


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
