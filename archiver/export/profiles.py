"""Which BagIt profile a command means: a short name, a file, a URL or a known identifier.

The profiles archiver ships (manifests/, packaged in archiver/schemas/) are ``ours``, ``aptrust``
and ``btr``; manifests/README.md names each one's source and licence. A URL is fetched (never
replaced by a packaged copy behind the user's back); one that cannot be fetched is bad input,
exit 2, so a check can never pass without its profile.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

from archiver.bag.profile import DEFAULT_PROFILE, LEGACY_IDENTIFIER, LEGACY_PROFILE, load_profile
from archiver.base.errors import EXIT_USAGE, ArchiverError

TAG_FILE_INFO = "X-Archiver-Tag-File-Info"

SCHEMAS = DEFAULT_PROFILE.parent
SHORT_NAMES = {
    "ours": DEFAULT_PROFILE,
    "archiver": DEFAULT_PROFILE,
    "aptrust": SCHEMAS / "aptrust-bagit-profile.json",
    "btr": SCHEMAS / "btr-bagit-profile.json",
}
_REQUIRED_INFO = ("Source-Organization", "Version", "BagIt-Profile-Identifier")
MAX_PROFILE_BYTES = 1 << 20  # a profile is a few kB; a larger answer is not one


def _identifiers() -> dict[str, Path]:
    """Identifiers of the packaged profiles: URNs are resolved to them, URLs are not."""
    known = {LEGACY_IDENTIFIER: LEGACY_PROFILE}
    for path in set(SHORT_NAMES.values()):
        known[
            json.loads(path.read_text("utf-8"))["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]
        ] = path
    return known


def resolve_profile(spec: str, timeout: float = 30.0) -> tuple[dict[str, Any], str]:
    """The profile ``spec`` names, and a short label for messages."""
    if spec.lower() in SHORT_NAMES:
        path = SHORT_NAMES[spec.lower()]
        return _checked(load_profile(path), spec), spec.lower()
    if spec.startswith("urn:"):
        known = _identifiers().get(spec)
        if known is None:
            raise ArchiverError(f"{spec}: unknown profile URN; give the profile file", EXIT_USAGE)
        return _checked(load_profile(known), spec), spec
    if spec.startswith(("http://", "https://")):
        return _checked(_fetch(spec, timeout), spec), spec
    if not Path(spec).is_file():
        raise ArchiverError(
            f"{spec}: no such profile; give ours, aptrust, btr, a JSON file or a URL", EXIT_USAGE
        )
    return _checked(load_profile(spec), spec), spec


def _fetch(url: str, timeout: float) -> dict[str, Any]:
    import requests

    deadline = time.monotonic() + timeout  # for the whole answer: a trickle cannot hold us
    try:
        with requests.get(url, timeout=timeout, stream=True) as resp:
            resp.raise_for_status()
            body = b""
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_PROFILE_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"not received within {timeout:g} s")
    except requests.RequestException as err:
        raise ArchiverError(
            f"{url}: cannot fetch the profile ({type(err).__name__}); download it and give the "
            "file, or use ours|aptrust|btr",
            EXIT_USAGE,
        ) from None
    if len(body) > MAX_PROFILE_BYTES:
        raise ArchiverError(f"{url}: over 1 MiB: not a BagIt profile", EXIT_USAGE)
    try:
        profile = json.loads(body)
    except ValueError:
        raise ArchiverError(f"{url}: not a JSON BagIt profile", EXIT_USAGE) from None
    if not isinstance(profile, dict) or "BagIt-Profile-Info" not in profile:
        raise ArchiverError(f"{url}: no BagIt-Profile-Info: not a BagIt profile", EXIT_USAGE)
    return profile


def _checked(profile: dict[str, Any], spec: str) -> dict[str, Any]:
    """The profile document itself must be well formed: bagit_profile's own check is right here.

    (Its checks of a *bag* are not used: it judges serialisation by file name and ignores
    Payload-Files-*, Data-Empty and other tag files; archiver.bag.profile covers them.) It only
    warns about a missing Version, which the spec requires, so that is checked here too.
    """
    import logging

    import bagit_profile

    info = profile.get("BagIt-Profile-Info", {})
    identifier = info.get("BagIt-Profile-Identifier", spec)
    logging.disable(logging.ERROR)  # it logs whole profiles to the root logger
    try:
        bagit_profile.Profile(str(identifier), profile=copy.deepcopy(profile))
    except bagit_profile.ProfileValidationError as err:
        why = str(err).rsplit("}: ", 1)[-1]
        raise ArchiverError(f"{spec}: not a valid BagIt profile ({why})", EXIT_USAGE) from None
    finally:
        logging.disable(logging.NOTSET)
    missing = [k for k in _REQUIRED_INFO if not str(info.get(k, "")).strip()]
    if missing:
        raise ArchiverError(
            f"{spec}: not a valid BagIt profile (BagIt-Profile-Info lacks {', '.join(missing)})",
            EXIT_USAGE,
        )
    _check_tag_file_info(profile, spec)
    return profile


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TAG_LABEL = re.compile(r"[^\s:][^:\r\n]*")


def _check_tag_file_info(profile: dict[str, Any], spec: str) -> None:
    """Other tag files a profile describes are written by ``export`` and read by ``profile
    check``: a profile (perhaps fetched from a URL) must not name a path outside the bag, nor
    smuggle extra lines into a tag file through a label or a default value."""
    described = profile.get(TAG_FILE_INFO, {})
    if not isinstance(described, dict):
        raise ArchiverError(f"{spec}: {TAG_FILE_INFO} is not an object", EXIT_USAGE)
    for name, rules in described.items():
        if not _PLAIN_NAME.fullmatch(name) or not isinstance(rules, dict):
            raise ArchiverError(
                f"{spec}: {TAG_FILE_INFO} names {name!r}; a tag file here is a plain file name "
                "in the bag's top folder",
                EXIT_USAGE,
            )
        for label, rule in rules.items():
            texts = [label, *(str(v) for v in _rule_values(rule))]
            if not _TAG_LABEL.fullmatch(label) or any("\n" in t or "\r" in t for t in texts):
                raise ArchiverError(
                    f"{spec}: {TAG_FILE_INFO} {name}: {label!r} is not a tag label, or a value "
                    "holds a line break",
                    EXIT_USAGE,
                )


def _rule_values(rule: Any) -> list[Any]:
    if not isinstance(rule, dict):
        return []
    return [rule.get("default", ""), *rule.get("values", [])]
