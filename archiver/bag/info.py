"""The bag-info.txt fields of a run's bag: who captured what, when, with which software."""

from __future__ import annotations

import platform
from datetime import datetime

from archiver import SOFTWARE, __version__
from archiver.bag.profile import PROFILE_IDENTIFIER
from archiver.base.settings import Settings
from archiver.base.timefmt import day, utc_iso


def bag_info_fields(
    settings: Settings, description: str, run_id: str, started: datetime, ended: datetime
) -> list[tuple[str, str]]:
    """bag-info.txt of a run, in order; a fact not given is left out, never a placeholder.

    ``archiver run`` refuses to start without the identity our profile requires
    (``archiver.run.settings.require_identity``), so only an optional fact can be missing here.
    """
    fields = [
        ("Source-Organization", settings.organisation),
        ("Contact-Name", settings.contact_name or settings.operator),
        ("Contact-Email", settings.contact_email),
        ("External-Description", " ".join(description.split())),
        ("External-Identifier", run_id),
        ("Bagging-Date", day(ended)),
        ("Bag-Software-Agent", f"{SOFTWARE} (https://archiver.invalid/)"),
        ("BagIt-Profile-Identifier", PROFILE_IDENTIFIER),
        ("Capture-Start", utc_iso(started)),
        ("Capture-End", utc_iso(ended)),
        ("Capture-Operator", settings.operator),
        ("Capture-Software", f"archiver {__version__}; Python {platform.python_version()}"),
    ]
    return [(label, value) for label, value in fields if value.strip()]
