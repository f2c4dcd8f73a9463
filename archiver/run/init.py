"""``archiver init``: say once who we are, in the operator's settings file.

Writes the identity every bag must carry (organisation, operator or contact name, contact email)
and the default time-stamping authorities into the settings file ``archiver.run.usersettings``
reads (``$ARCHIVER_CONFIG``, else the XDG config folder). No prompts, so it can be scripted; an
existing file is never replaced without ``--force``, and then only the keys given change.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from archiver.attest.tsa import parse_tsa_option
from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import replace_file
from archiver.run.usersettings import load_user_settings, settings_path


@dataclass
class Identity:
    """What ``archiver init`` was given; empty strings were not given."""

    operator: str = ""
    organisation: str = ""
    contact_name: str = ""
    contact_email: str = ""
    tsa: list[str] = field(default_factory=list)  # NAME=URL,ROOT.pem


def init_command(identity: Identity, *, force: bool = False) -> int:
    """Write the settings file; exit 2 if it exists (without --force) or identity is missing."""
    path, _explicit = settings_path()
    _check(identity)
    existing: dict[str, Any] = {}
    if path.exists():
        if not force:
            raise ArchiverError(
                f"{path}: a settings file is already there; give --force to update its identity "
                "and TSA keys (other keys are kept)",
                EXIT_USAGE,
            )
        load_user_settings()  # a broken file is reported as such, not silently replaced
        existing = tomllib.loads(path.read_text("utf-8"))
    values = dict(existing)
    for key in ("operator", "organisation", "contact_name", "contact_email"):
        if getattr(identity, key).strip():
            values[key] = getattr(identity, key).strip()
    if identity.tsa:
        values["tsa"] = [_tsa_table(t) for t in identity.tsa]
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, to_toml(values).encode("utf-8"))
    os.chmod(path, 0o644)
    load_user_settings()  # what was written reads back
    print(f"archiver: wrote {path}")
    return EXIT_OK


def _check(identity: Identity) -> None:
    """The same identity `archiver run` requires, each value one line."""
    missing = []
    if not identity.organisation.strip():
        missing.append("--organisation")
    if not (identity.operator.strip() or identity.contact_name.strip()):
        missing.append("--operator or --contact-name")
    if not identity.contact_email.strip():
        missing.append("--contact-email")
    if missing:
        raise ArchiverError(f"init: give {', '.join(missing)} (every bag names them)", EXIT_USAGE)
    if "@" not in identity.contact_email:
        raise ArchiverError(
            f"init: --contact-email {identity.contact_email!r} is not an email address", EXIT_USAGE
        )
    for key in ("operator", "organisation", "contact_name", "contact_email"):
        if any(c in getattr(identity, key) for c in "\r\n"):
            raise ArchiverError(f"init: --{key.replace('_', '-')} must be one line", EXIT_USAGE)


def _tsa_table(option: str) -> dict[str, Any]:
    tsa = parse_tsa_option(option)  # checks the form and that the root files exist
    return {"name": tsa.name, "url": tsa.url, "roots": [str(r.resolve()) for r in tsa.roots]}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a TOML basic string


def to_toml(values: dict[str, Any]) -> str:
    """The settings file's TOML: scalars first, then the ``[[tsa]]`` tables."""
    lines = ["# archiver settings (docs/cli.md); written by `archiver init`"]
    for key, v in values.items():
        if key != "tsa":
            lines.append(f"{key} = {_value(v)}")
    for table in values.get("tsa", []):
        lines.append("")
        lines.append("[[tsa]]")
        lines.extend(f"{k} = {_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"
