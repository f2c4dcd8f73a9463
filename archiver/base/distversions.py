"""The installed versions of the libraries that capture, record and seal, by name.

The warcinfo records and the provenance summary name them. Asked of ``importlib.metadata``
(which urllib3 imports anyway); a name not installed is left out.
"""

from __future__ import annotations

import contextlib
from importlib import metadata


def versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """Each installed name's version, as ``importlib.metadata.version`` gives it."""
    found: dict[str, str | None] = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


__all__ = ["versions"]
