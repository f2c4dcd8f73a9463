"""``archiver profile check BAG PROFILE``: every way a bag breaks a BagIt profile, one per line.

Rules over bag-info, manifests, fetch.txt and tag/payload files are archiver.bag.profile's
(bagit_profile 1.3.1 misses Payload-Files-*, Data-Empty and Fetch.txt-Required and stops early).
Added here, where it is known whether the bag came serialised: Serialization
required/forbidden, Accept-Serialization judged by content, the single top-level folder (and
APTrust's "folder named like the tar"), and the elements of other tag files
(``X-Archiver-Tag-File-Info``, e.g. aptrust-info.txt, which the profile format cannot express).
Exit 0 conforms, 1 does not, 2 bad input (no bag, no profile, a URL that cannot be fetched).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from archiver.bag.profile import check_profile_view
from archiver.bag.tagfiles import parse_bag_info, read_tag_lines
from archiver.base.errors import EXIT_INVALID, EXIT_OK
from archiver.base.problems import Problem
from archiver.export.archive import ALIASES, MEDIA_TYPES, BagView, open_bag
from archiver.export.profiles import TAG_FILE_INFO, resolve_profile

DIR_MATCHES_NAME = "X-Archiver-Tar-Dir-Must-Match-Name"


def check_bag(path: Path, profile: dict[str, Any]) -> list[Problem]:
    """Every problem of the folder or serialised bag at ``path`` against ``profile``."""
    with open_bag(path) as view:
        problems = [Problem(f"profile-{c}", p, m) for c, p, m in view.problems]
        problems += check_profile_view(view.root, view.files, view.sizes, profile)
        problems += serialisation_problems(path, view, profile)
        problems += tag_file_problems(view.root, view.files, profile)
    return problems


def serialisation_problems(path: Path, view: BagView, profile: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    rule = profile.get("Serialization", "optional")
    if view.kind == "dir":
        if rule == "required":
            out.append(
                Problem("profile-serialization", "", "the profile requires a serialised bag")
            )
        return out
    if rule == "forbidden":
        out.append(Problem("profile-serialization", "", "the profile forbids serialised bags"))
    media = MEDIA_TYPES[view.kind]
    accepted = set(profile.get("Accept-Serialization", []))
    if accepted and not accepted & ALIASES[media]:
        out.append(
            Problem(
                "profile-accept-serialization",
                "",
                f"{path.name} is {media} (by content); the profile accepts {sorted(accepted)}",
            )
        )
    stem = path.name.split(".")[0] if view.kind == "tgz" else path.stem
    if profile.get(DIR_MATCHES_NAME) and view.top != stem:
        out.append(Problem("profile-top-folder", view.top, f"the top folder must be named {stem}"))
    return out


def tag_file_problems(root: Path, files: list[str], profile: dict[str, Any]) -> list[Problem]:
    """Element rules for tag files other than bag-info.txt (required, values, repeatable)."""
    out: list[Problem] = []
    for name, rules in profile.get(TAG_FILE_INFO, {}).items():
        if name not in files:
            listed = name in profile.get("Tag-Files-Required", [])  # reported once, there
            if not listed and any(r.get("required") for r in rules.values()):
                out.append(Problem("profile-tag-file-required", name, "required tag file missing"))
            continue
        ignored: list[Problem] = []
        lines = read_tag_lines(root / name, name, "utf-8", (1, 0), ignored)
        values: dict[str, list[str]] = defaultdict(list)
        for label, value in parse_bag_info(lines, (1, 0), ignored):
            values[label].append(value)
        for label, rule in rules.items():
            got = values.get(label, [])
            if rule.get("required") and not any(v.strip() for v in got):
                out.append(
                    Problem("profile-tag-missing", name, f"required element {label} missing")
                )
            allowed = rule.get("values")
            for v in got:
                if allowed and v not in allowed:
                    out.append(
                        Problem("profile-tag-value", name, f"{label} is {v!r}; allowed: {allowed}")
                    )
            if rule.get("repeatable") is False and len(got) > 1:
                out.append(Problem("profile-tag-repeated", name, f"{label} appears {len(got)}x"))
    return out


def profile_check_command(bag: str, profile_spec: str) -> int:
    profile, label = resolve_profile(profile_spec)
    problems = check_bag(Path(bag), profile)
    for p in problems:
        print(p)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print(f"archiver: {bag}: {len(errors)} problem(s) against {label}")
        return EXIT_INVALID
    print(f"archiver: {bag}: conforms to {label}")
    return EXIT_OK
