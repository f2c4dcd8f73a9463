"""``archiver export BAG --profile P --format dir|tar|zip|tgz``: a new bag a repository accepts.

The sealed original is only read. The export is a new BagIt 1.0 bag with the same payload paths,
the profile's manifest algorithms, its tag files and required fields, and, under
``archiver-original/``, every tag file of the original (bagit.txt, bag-info.txt, its manifests
and tag manifests, provenance-anchors/ with RFC 3161 tokens and signature), so the original's
timestamps and signature stay checkable inside the export (docs/handoff.md says how by hand).
``archiver-export.json`` records that mapping. The export keeps the original's Bagging-Date and
takes no clock time, so exporting one bag twice gives byte-identical files.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from calendar import timegm
from pathlib import Path
from time import strptime
from typing import Any

from archiver import SOFTWARE
from archiver.bag.profile import PLACEHOLDER, PROFILE_TAG_FILE, copy_profile_into
from archiver.bag.reader import read_bag_info, require_sealed_bag
from archiver.bag.validate import validate_bag
from archiver.bag.writer import BagBuilder
from archiver.base import userconfig
from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import replace_file
from archiver.base.settings import Settings, from_environment
from archiver.export.archive import ALIASES, MEDIA_TYPES
from archiver.export.handed import record_export
from archiver.export.profilecheck import DIR_MATCHES_NAME, check_bag
from archiver.export.profiles import TAG_FILE_INFO, resolve_profile
from archiver.export.serialise import serialise

ORIGINAL_DIR = "archiver-original"
MAPPING = "archiver-export.json"
_COMPUTED = {"payload-oxum", "bag-size", "bagit-profile-identifier"}
_FROM_SETTINGS = {  # bag-info label -> (settings field, how to set it)
    "Source-Organization": ("organisation", "archiver init --organisation ORG --force"),
    "Contact-Name": ("contact_name", "archiver init --contact-name NAME --force"),
    "Contact-Email": ("contact_email", "archiver init --contact-email ADDRESS --force"),
}


def export_command(bag: Path, profile_spec: str, fmt: str, out: Path, sets: list[str]) -> int:
    profile, label = resolve_profile(profile_spec)
    source = require_sealed_bag(bag)
    _check_format(profile, label, fmt)
    report = validate_bag(source)
    if not report.valid:
        raise ArchiverError(f"{bag}: not a valid bag; run `archiver verify {bag}`", EXIT_USAGE)
    given = _parse_sets(sets)
    info = _bag_info(source, profile, label, given)
    tag_files = _tag_files(profile, label, given, source)
    out.mkdir(parents=True, exist_ok=True)
    name = source.name
    result = _build(source, profile, info, tag_files, out, name, fmt)
    problems = [p for p in check_bag(result, profile) if p.severity == "error"]
    if problems:  # the profile must accept what we made; never hand over a bag it would refuse
        if result.is_dir():
            shutil.rmtree(result)
        else:
            result.unlink()
        raise ArchiverError(
            f"export: the bag made for {label} does not conform ({problems[0]}); nothing written"
        )
    entry = record_export(source, result, fmt, label)
    print(f"custody: exported recorded as seq {entry['seq']}", file=sys.stderr)
    print(result)
    return EXIT_OK


def _check_format(profile: dict[str, Any], label: str, fmt: str) -> None:
    rule = profile.get("Serialization", "optional")
    if fmt == "dir" and rule == "required":
        listed = ", ".join(profile.get("Accept-Serialization", []))
        raise ArchiverError(
            f"export: {label} requires a serialised bag ({listed}); give --format tar", EXIT_USAGE
        )
    if fmt != "dir":
        accepted = set(profile.get("Accept-Serialization", []))
        aliases = ALIASES[MEDIA_TYPES[fmt]]
        if rule == "forbidden" or (accepted and not accepted & aliases):
            raise ArchiverError(
                f"export: {label} does not accept --format {fmt} (accepts: "
                f"{', '.join(sorted(accepted)) or 'folders only'})",
                EXIT_USAGE,
            )


def _parse_sets(sets: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for item in sets:
        label, sep, value = item.partition("=")
        if not sep or not label.strip() or not value.strip() or "\n" in value:
            raise ArchiverError(f"--set {item!r}: expected LABEL=VALUE on one line", EXIT_USAGE)
        given[label.strip()] = value.strip()
    return given


def _bag_info(
    source: Path, profile: dict[str, Any], label: str, given: dict[str, str]
) -> list[tuple[str, str]]:
    """The original's bag-info minus computed fields and placeholders, completed for the profile."""
    other = {lbl for rules in profile.get(TAG_FILE_INFO, {}).values() for lbl in rules}
    items = [  # a label given with --set replaces the original's value
        (k, v)
        for k, v in read_bag_info(source)
        if k.lower() not in _COMPUTED and v.strip() and v.strip() != PLACEHOLDER and k not in given
    ]
    items += [(k, v) for k, v in given.items() if k not in other]
    have = {k for k, _ in items}
    settings = from_environment(Settings().with_overrides(**userconfig.identity()))
    for tag, rule in profile.get("Bag-Info", {}).items():
        if not rule.get("required") or tag in have or tag.lower() in _COMPUTED:
            continue
        field, how = _FROM_SETTINGS.get(tag, ("", f"--set {tag}=VALUE"))
        value = getattr(settings, field, "") if field else ""
        if not value and tag == "Contact-Name":
            value = settings.operator
        if not value:
            raise ArchiverError(
                f"export: {label} requires {tag} in bag-info.txt, which was never given; "
                f"set it with `{how}` or --set {tag}=VALUE",
                EXIT_USAGE,
            )
        items.append((tag, value))
    identifier = profile["BagIt-Profile-Info"].get("BagIt-Profile-Identifier", "")
    if identifier:
        items.append(("BagIt-Profile-Identifier", identifier))
    if not any(k.lower() == "bag-software-agent" for k, _ in items):
        items.append(("Bag-Software-Agent", SOFTWARE))
    return items


def _tag_files(
    profile: dict[str, Any], label: str, given: dict[str, str], source: Path
) -> dict[str, str]:
    """Other tag files the profile describes (e.g. aptrust-info.txt), from --set and defaults."""
    out: dict[str, str] = {}
    description = dict(read_bag_info(source)).get("External-Description", "")
    for name, rules in profile.get(TAG_FILE_INFO, {}).items():
        if name == "bagit.txt":
            continue
        lines = []
        for tag, rule in rules.items():
            value = given.get(tag) or rule.get("default", "")
            if not value and tag == "Title":
                value = description  # the original's own description names what it holds
            if not value and rule.get("required"):
                allowed = "|".join(rule.get("values", [])) or "VALUE"
                raise ArchiverError(
                    f"export: {label} requires {tag} in {name}, which was never given; "
                    f"give --set {tag}={allowed}",
                    EXIT_USAGE,
                )
            if value:
                lines.append(f"{tag}: {value}\n")
        out[name] = "".join(lines)
    return out


def _algorithms(profile: dict[str, Any]) -> tuple[str, ...]:
    """The profile's required algorithms, plus ours (sha256, sha512) where it allows them."""
    required = list(profile.get("Manifests-Required", []))
    allowed = profile.get("Manifests-Allowed")
    ours = [a for a in ("sha256", "sha512") if allowed is None or a in allowed]
    algs = [*required, *[a for a in ours if a not in required]]
    return tuple(algs or ["sha256"])


def _build(
    source: Path,
    profile: dict[str, Any],
    info: list[tuple[str, str]],
    tag_files: dict[str, str],
    out: Path,
    name: str,
    fmt: str,
) -> Path:
    with tempfile.TemporaryDirectory(prefix=".archiver-export-", dir=out) as tmp:
        final = (out if fmt == "dir" else Path(tmp)) / name
        builder = BagBuilder(final, _algorithms(profile))
        for path in sorted((source / "data").rglob("*")):
            if path.is_file():
                builder.add_payload_file(path.relative_to(source / "data").as_posix(), path)
        original = builder.staging / ORIGINAL_DIR
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if rel.parts[0] == "data" or not path.is_file():
                continue
            (original / rel).parent.mkdir(parents=True, exist_ok=True)
            replace_file(original / rel, path.read_bytes())  # tag files: small, fsynced
        for tag_name, text in tag_files.items():
            replace_file(builder.staging / tag_name, text.encode("utf-8"))
        if PROFILE_TAG_FILE in profile.get("Tag-Files-Required", []):
            copy_profile_into(builder.staging)
        mapping = json.dumps(_mapping(source, profile), indent=2) + "\n"
        replace_file(builder.staging / MAPPING, mapping.encode("utf-8"))
        bag = builder.seal(info)
        if fmt == "dir":
            return bag
        return serialise(bag, fmt, out, _mtime(info))


def _mapping(source: Path, profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "archiver-export/1",
        "source_bag": source.name,
        "profile": profile["BagIt-Profile-Info"].get("BagIt-Profile-Identifier", ""),
        "original_tag_files": f"{ORIGINAL_DIR}/",
        "payload": "data/ holds the original's payload at the same paths, byte for byte",
        "verify_by_hand": "docs/handoff.md",
        "tar_dir_matches_name": bool(profile.get(DIR_MATCHES_NAME)),
    }


def _mtime(info: list[tuple[str, str]]) -> int:
    """The entries' time: the Bagging-Date at 00:00 UTC (fixed for one bag)."""
    day = dict(info).get("Bagging-Date", "1980-01-01")
    try:
        return timegm(strptime(day, "%Y-%m-%d"))
    except ValueError:
        return 315532800
