"""Check a bag against a BagIt profile (bagit-profiles 1.4.0 JSON), reporting every problem.

Our own check because the reference validator (bagit_profile 1.3.1) stops at the first
failure of each rule, fetches profiles over the network unless told otherwise, and ignores
Payload-Files-Required/Allowed, Data-Empty and Fetch.txt-Required, which our profile relies on.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archiver.bag.tagfiles import parse_bag_info, parse_bagit_txt, read_tag_lines
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.fsutil import replace_file
from archiver.base.problems import Problem

# The repo keeps the profile in manifests/; the package carries a byte-identical copy
# (tests/test_manifests.py keeps them equal) so an installed archiver finds it too.
DEFAULT_PROFILE = Path(__file__).resolve().parents[1] / "schemas" / "archiver-bagit-profile.json"
# What a conforming bag's bag-info.txt gives as BagIt-Profile-Identifier (`archiver run` uses it):
# a URN, because no domain of ours resolves; every bag carries the profile as PROFILE_TAG_FILE.
PROFILE_IDENTIFIER = "urn:uuid:f7ca83aa-ebb2-4fcf-9c3f-94ae0670cdf0"
PROFILE_TAG_FILE = "archiver-bagit-profile.json"
# Bags sealed before profile 1.1 declare 1.0 (on archiver.invalid) and are checked against it.
LEGACY_IDENTIFIER = "https://archiver.invalid/manifests/archiver-bagit-profile.json"


def copy_profile_into(staging: Path) -> None:
    """Put our profile in a bag being built: its identifier is a URN that resolves nowhere."""
    replace_file(staging / PROFILE_TAG_FILE, DEFAULT_PROFILE.read_bytes())


LEGACY_PROFILE = DEFAULT_PROFILE.with_name("archiver-bagit-profile-1.0.json")
PLACEHOLDER = "(not given)"  # what bags before 1.1 wrote for a fact the operator never gave
_RESERVED_TAG_FILES = ("bagit.txt", "bag-info.txt", "fetch.txt")
_Add = Callable[[str, str, str], None]  # report a rule broken: (code, path, message)


def load_profile(profile_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a profile file; a missing or malformed one is a one-line error."""
    try:
        with open(profile_path, encoding="utf-8") as f:
            profile = json.load(f)
    except OSError as e:
        raise ArchiverError(f"{profile_path}: cannot read the profile ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise ArchiverError(
            f"{profile_path}: not a JSON BagIt profile (line {e.lineno}: {e.msg})"
        ) from e
    if not isinstance(profile, dict) or "BagIt-Profile-Info" not in profile:
        raise ArchiverError(f"{profile_path}: no BagIt-Profile-Info: not a BagIt profile")
    return profile


def profile_for_bag(bag: Path) -> Path | None:
    """The packaged profile a bag declares (1.0 for old bags, APTrust or BTR for exports).

    A bag that declares no profile is taken as ours; one that declares a profile archiver does
    not ship gets None (no profile to hold it to here; `archiver profile check` takes a file).
    """
    try:
        text = (bag / "bag-info.txt").read_text("utf-8", errors="replace")
    except OSError:
        return DEFAULT_PROFILE
    declared = [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.lower().startswith("bagit-profile-identifier:")
    ]
    if not declared:
        return DEFAULT_PROFILE
    for path in sorted(DEFAULT_PROFILE.parent.glob("*bagit-profile*.json")):
        info = json.loads(path.read_text("utf-8")).get("BagIt-Profile-Info", {})
        if info.get("BagIt-Profile-Identifier") in declared:
            return path
    return None


def _files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            out.append(name if base == "." else f"{base}/{name}")
    return sorted(out)


def check_profile(
    bag_path: str | os.PathLike[str],
    profile_path: str | os.PathLike[str] | dict[str, Any] = DEFAULT_PROFILE,
) -> list[Problem]:
    """Every way the bag at ``bag_path`` breaks the profile's rules (empty list: conforms)."""
    profile = profile_path if isinstance(profile_path, dict) else load_profile(profile_path)
    root = Path(bag_path)
    if not root.is_dir():
        raise ArchiverError(
            f"{bag_path}: not a bag directory; give the folder that holds bagit.txt", EXIT_USAGE
        )
    files = _files(root)
    sizes = {f: (root / f).stat().st_size for f in files if f.startswith("data/")}
    return check_profile_view(root, files, sizes, profile)


def check_profile_view(
    root: Path, files: list[str], sizes: dict[str, int], profile: dict[str, Any]
) -> list[Problem]:
    """The profile's rules over a bag's file list; ``root`` need only hold its tag files.

    A serialised bag is checked this way without unpacking its payload (archiver.export).
    """
    problems: list[Problem] = []

    def add(code: str, path: str, message: str) -> None:
        problems.append(Problem(f"profile-{code}", path, message))

    root_files = [f for f in files if "/" not in f]
    payload = [f for f in files if f.startswith("data/")]
    _check_bag_info_rules(root, profile, add)
    _check_manifest_rules(root_files, profile, add)
    _check_fetch_and_payload_rules(sizes, root_files, payload, profile, add)
    _check_file_rules(files, payload, profile, add)
    return problems


def _check_bag_info_rules(root: Path, profile: dict[str, Any], add: _Add) -> None:
    """Accept-BagIt-Version, the declared profile identifier, and each Bag-Info element rule."""
    ignored: list[Problem] = []  # RFC problems are validate_bag's business
    identifier = profile["BagIt-Profile-Info"].get("BagIt-Profile-Identifier", "")
    bagit = None
    if (root / "bagit.txt").is_file():
        bagit = parse_bagit_txt((root / "bagit.txt").read_bytes()[:65536], ignored)
    accept = profile.get("Accept-BagIt-Version")
    if accept and (bagit is None or bagit.version_text not in accept):
        found = bagit.version_text if bagit else "none"
        add("bagit-version", "bagit.txt", f"BagIt version {found} is not one of {accept}")

    # bag-info.txt
    items: list[tuple[str, str]] = []
    if (root / "bag-info.txt").is_file():
        version = bagit.version if bagit else (1, 0)
        encoding = bagit.encoding if bagit else "utf-8"
        lines = read_tag_lines(root / "bag-info.txt", "bag-info.txt", encoding, version, ignored)
        items = parse_bag_info(lines, version, ignored)
    elif profile.get("Bag-Info"):
        add("bag-info-missing", "bag-info.txt", "the profile requires bag-info.txt")
    values: dict[str, list[str]] = defaultdict(list)
    for label, value in items:
        values[label].append(value)
    declared = values.get("BagIt-Profile-Identifier", [])
    if identifier and declared and identifier not in declared:
        add(
            "identifier",
            "bag-info.txt",
            f"BagIt-Profile-Identifier is {declared[0]!r}, not this profile ({identifier})",
        )
    for tag, rule in profile.get("Bag-Info", {}).items():
        got = values.get(tag, [])
        if rule.get("required") and not any(v.strip() for v in got):
            add("tag-missing", "bag-info.txt", f"required element {tag} is missing or empty")
        allowed = rule.get("values")
        for v in got:
            if allowed and v not in allowed:
                add("tag-value", "bag-info.txt", f"{tag} is {v!r}; allowed: {allowed}")
        if rule.get("repeatable") is False and len(got) > 1:
            add("tag-repeated", "bag-info.txt", f"{tag} appears {len(got)} times; allowed once")


def _check_manifest_rules(root_files: list[str], profile: dict[str, Any], add: _Add) -> None:
    """Manifests-/Tag-Manifests- Required and Allowed algorithms."""
    for kind, prefix in (("Manifests", "manifest-"), ("Tag-Manifests", "tagmanifest-")):
        present = sorted(f[len(prefix) : -4] for f in root_files if f.startswith(prefix))
        present = [a for a in present if f"{prefix}{a}.txt" in root_files]
        for alg in profile.get(f"{kind}-Required", []):
            if alg not in present:
                add(f"{kind.lower()}-required", f"{prefix}{alg}.txt", f"{kind} requires {alg}")
        allowed_algs = profile.get(f"{kind}-Allowed")
        if allowed_algs is not None:
            for alg in present:
                if alg not in allowed_algs:
                    add(
                        f"{kind.lower()}-allowed",
                        f"{prefix}{alg}.txt",
                        f"{alg} is not among the allowed {kind.lower()}: {allowed_algs}",
                    )


def _check_fetch_and_payload_rules(
    sizes: dict[str, int],
    root_files: list[str],
    payload: list[str],
    profile: dict[str, Any],
    add: _Add,
) -> None:
    """fetch.txt allowed or required, Data-Empty (Serialization: archiver.export.profilecheck)."""
    has_fetch = "fetch.txt" in root_files
    if has_fetch and profile.get("Allow-Fetch.txt", True) is False:
        add("fetch-not-allowed", "fetch.txt", "the profile does not allow fetch.txt")
    if not has_fetch and profile.get("Fetch.txt-Required") is True:
        add("fetch-required", "fetch.txt", "the profile requires fetch.txt")
    if profile.get("Data-Empty") is True:
        lengths = [sizes.get(f, 0) for f in payload]
        if len(lengths) > 1 or any(lengths):
            add("data-not-empty", "data", "the profile requires an empty payload")


def _check_file_rules(
    files: list[str], payload: list[str], profile: dict[str, Any], add: _Add
) -> None:
    """Tag-Files- and Payload-Files- Required and Allowed patterns."""
    tag_files = [f for f in files if not f.startswith("data/")]
    for required in profile.get("Tag-Files-Required", []):
        if required not in tag_files:
            add("tag-file-required", required, "the profile requires this tag file")
    allowed_tags = profile.get("Tag-Files-Allowed")
    if allowed_tags is not None:
        for f in tag_files:
            reserved = f in _RESERVED_TAG_FILES or f.startswith(("manifest-", "tagmanifest-"))
            if not reserved and not any(fnmatch.fnmatchcase(f, g) for g in allowed_tags):
                add("tag-file-allowed", f, "this tag file is not allowed by the profile")
    for required in profile.get("Payload-Files-Required", []):
        if not any(fnmatch.fnmatchcase(f, required) for f in payload):
            add("payload-file-required", required, "the profile requires this payload file")
    allowed_payload = profile.get("Payload-Files-Allowed")
    if allowed_payload is not None:
        for f in payload:
            if not any(fnmatch.fnmatchcase(f, g) for g in allowed_payload):
                add("payload-file-allowed", f, "this payload file is not allowed by the profile")
