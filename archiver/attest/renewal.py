"""Timestamp renewal, as RFC 4998 evidence records do it: a new token over the old evidence.

A token stays convincing only while its TSA's signing certificate does: once it has expired
(or its key or hash is no longer trusted) nothing new can be checked against it. Before then,
``renew_bag`` writes a *renewal statement* into ``provenance-anchors/`` (canonical JSON naming
the SHA-256 and SHA-512 of every tag manifest, every token and every earlier statement) and has
each configured TSA timestamp it (SHA-512 imprint). The new token proves the old evidence
existed, unaltered, while the old certificate was still valid; RFC 4998 calls this timestamp
renewal (section 5.2), here with one statement instead of a hash tree. Files are only added.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from archiver.attest import custody
from archiver.attest.anchors import ANCHORS_DIR, anchors_dir, locked
from archiver.attest.timestamp import report_results, stamp_files
from archiver.attest.tokencheck import TokenCheck
from archiver.attest.tsa import TOKEN_SUFFIX, TsaConfig, TsaResult, _iso
from archiver.bag.reader import (
    bag_info_value,
    check_tag_files,
    read_bag_info,
    require_sealed_bag,
    tag_manifests,
)
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.fsutil import free_name, write_new
from archiver.base.hashing import hash_file
from archiver.base.problems import Problem
from archiver.base.timefmt import compact, parse_iso

RENEWAL_FORMAT = "archiver-renewal/1"
RENEWAL_PREFIX = "renewal-"
RENEWAL_NAME = re.compile(r"^renewal-\d{8}T\d{6}Z(-\d+)?\.json$")
CERT_EXPIRED = "timestamp-cert-expired"


def is_statement(name: str) -> bool:
    return bool(RENEWAL_NAME.match(name))


# A statement lists tag manifests, tokens and earlier statements: a few per renewal, for decades.
MAX_COVERED = 10_000


def _digests(path: Path) -> dict[str, str]:
    """SHA-256 and SHA-512 of a file, read in pieces (a statement may name a large file)."""
    return hash_file(path, ("sha256", "sha512")).digests


def covered_now(bag: Path) -> list[str]:
    """What a new statement covers: tag manifests, every token, every earlier statement."""
    folder = anchors_dir(bag)
    anchors = sorted(
        f"{ANCHORS_DIR}/{p.name}"
        for p in (folder.iterdir() if folder.is_dir() else [])
        if p.is_file() and not p.is_symlink()
        and (p.name.endswith(TOKEN_SUFFIX) or is_statement(p.name))
    )  # fmt: skip
    return [*tag_manifests(bag), *anchors]


def write_statement(bag: Path, at: datetime) -> str:
    """Write a new renewal statement (never replacing one); its path relative to the bag."""
    covers = [{"file": rel, **_digests(bag / rel)} for rel in covered_now(bag)]
    statement = {
        "format": RENEWAL_FORMAT,
        "created": _iso(at),
        "external_identifier": bag_info_value(read_bag_info(bag), "External-Identifier"),
        "purpose": "RFC 4998-style timestamp renewal: the token over this file proves every "
        "file listed existed with these digests at its genTime",
        "covers": covers,
    }
    text = json.dumps(statement, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    folder = anchors_dir(bag, create=True)
    name = free_name(folder, f"{RENEWAL_PREFIX}{compact(at)}", ".json")
    write_new(folder, name, text.encode("utf-8"))
    return f"{ANCHORS_DIR}/{name}"


def read_statement(bag: Path, rel: str) -> tuple[list[dict[str, Any]], Problem | None]:
    """The ``covers`` list of a statement, or the problem that makes it unreadable."""
    try:
        data = json.loads((bag / rel).read_bytes())
        covers = data["covers"] if data.get("format") == RENEWAL_FORMAT else None
        if not isinstance(covers, list) or not all(isinstance(c, dict) for c in covers):
            raise ValueError("no covers list")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        return [], Problem("renewal-unreadable", rel, f"not a renewal statement ({err})")
    return covers, None


def statements(bag: Path) -> list[str]:
    folder = anchors_dir(bag)
    if not folder.is_dir():
        return []
    return sorted(f"{ANCHORS_DIR}/{p.name}" for p in folder.iterdir() if is_statement(p.name))


def renewal_problems(bag: Path) -> list[Problem]:
    """Each statement readable, and every file it lists still there with the listed digests."""
    problems: list[Problem] = []
    hashed: dict[str, dict[str, str]] = {}  # each file hashed once, however often it is listed
    for rel in statements(bag):
        covers, problem = read_statement(bag, rel)
        if problem is not None:
            problems.append(problem)
        if len(covers) > MAX_COVERED:
            problems.append(
                Problem(
                    "renewal-unreadable",
                    rel,
                    f"lists {len(covers)} files (at most "
                    f"{MAX_COVERED}: tag manifests, tokens and statements)",
                )  # fmt: skip
            )
            continue
        for item in covers:
            name = str(item.get("file", ""))
            path = bag / name
            if name.startswith("/") or ".." in Path(name).parts or not path.is_file():
                problems.append(
                    Problem("renewal-covered-missing", rel, f"{name} is listed but gone")
                )
                continue
            found = hashed.get(name) or hashed.setdefault(name, _digests(path))
            if any(item.get(alg) != found[alg] for alg in found):
                problems.append(
                    Problem(
                        "renewal-covered-changed",
                        rel,
                        f"{name} no longer has the digests this renewal statement recorded",
                    )
                )
    return problems


# -- certificate expiry ------------------------------------------------------------------------


@dataclass
class TokenLife:
    """When one token's TSA signing certificate stops vouching for it, and what renews it."""

    check: TokenCheck
    gen_time: datetime | None
    not_after: datetime | None
    renewed_by: str = ""  # the token file that keeps it valid, if one does


def signer_not_after(token_file: Path) -> datetime | None:
    """notAfter of the token's signing certificate (the embedded timeStamping leaf)."""
    from rfc3161_client import decode_timestamp_response

    try:
        response = decode_timestamp_response(token_file.read_bytes())
        certs = [x509.load_der_x509_certificate(d) for d in response.signed_data.certificates]
    except Exception:  # an unreadable token is reported by tokencheck
        return None
    leaves = [c for c in certs if _is_tsa_leaf(c)] or certs
    return min((c.not_valid_after_utc for c in leaves), default=None)


def _is_tsa_leaf(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in eku


def token_lives(bag: Path, checks: Sequence[TokenCheck]) -> list[TokenLife]:
    return [
        TokenLife(c, parse_iso(c.gen_time), signer_not_after(bag / c.file))
        for c in checks
        if (bag / c.file).is_file()
    ]


def _token_in_anchors(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0] == ANCHORS_DIR and parts[1].endswith(TOKEN_SUFFIX)


def alive_at(bag: Path, lives: Sequence[TokenLife], moment: datetime) -> set[str]:
    """Token files still convincing at ``moment``: a good token whose certificate is still
    valid then, or one listed (unchanged) in a statement that a token alive at ``moment``
    stamped before the first one's certificate expired. Sets ``renewed_by``."""
    good = [life for life in lives if life.check.ok]
    alive = {x.check.file for x in good if x.not_after is None or moment <= x.not_after}
    covered: dict[str, set[str]] = {}  # token file -> statements listing it unchanged
    hashed: dict[str, str] = {}
    for rel in statements(bag):
        covers, _ = read_statement(bag, rel)
        for item in covers[:MAX_COVERED]:
            name = str(item.get("file", ""))
            if not (_token_in_anchors(name) and (bag / name).is_file()):
                continue
            if name not in hashed:
                hashed[name] = _digests(bag / name)["sha512"]
            if item.get("sha512") == hashed[name]:
                covered.setdefault(name, set()).add(rel)
    changed = True
    while changed:
        changed = False
        for life in good:
            if life.check.file in alive or life.not_after is None:
                continue
            for renewal in good:
                if (
                    renewal.check.file in alive
                    and renewal.check.target in covered.get(life.check.file, set())
                    and renewal.gen_time is not None
                    and renewal.gen_time <= life.not_after
                ):
                    alive.add(life.check.file)
                    life.renewed_by = renewal.check.file
                    changed = True
                    break
    return alive


def apply_expiry(bag: Path, checks: list[TokenCheck], now: datetime) -> None:
    """Demote a good token whose certificate has expired and that no timely renewal covers."""
    lives = token_lives(bag, checks)
    alive = alive_at(bag, lives, now)
    for life in lives:
        check = life.check
        if not check.ok:
            continue
        if check.file not in alive and life.not_after is not None:
            check.ok = False
            check.problem = Problem(
                CERT_EXPIRED,
                check.file,
                f"{check.tsa}'s signing certificate expired at {_iso(life.not_after)} and no "
                "renewal made before then covers this token, so it no longer proves the time "
                "on its own; renew before expiry (`archiver audit --renew`)",
                "warning",
            )
        elif life.renewed_by and life.not_after is not None and now > life.not_after:
            check.verified_with += (
                f"; its certificate expired at {_iso(life.not_after)}, but it was renewed "
                f"before then by {life.renewed_by}"
            )


def expiring_tokens(
    bag: Path, checks: list[TokenCheck], now: datetime, within_days: int
) -> list[TokenLife]:
    """Tokens that will stop convincing within ``within_days`` (or already have) unless renewed.

    ``checks`` have been through ``apply_expiry``; a token kept alive past the horizon by a
    renewal is not listed.
    """
    lives = token_lives(bag, checks)
    alive = alive_at(bag, lives, now + timedelta(days=within_days))
    return [
        life
        for life in lives
        if (life.check.ok and life.check.file not in alive)
        or (life.check.problem is not None and life.check.problem.code == CERT_EXPIRED)
    ]


def renew_bag(
    bag: Path,
    tsas: list[TsaConfig],
    *,
    timeout: float = 30,
    custody_log: Path | None = None,
    actor: str = "",
) -> tuple[str | None, list[TsaResult]]:
    """Write a renewal statement and timestamp it with every TSA (SHA-512 imprint).

    When no TSA gives a token, the statement (covered by nothing, named by nothing) is removed
    again and the failures are recorded; the bag is as it was.
    """
    require_sealed_bag(bag)
    if not tsas:
        raise ArchiverError(
            "no TSA configured for renewal: give --tsa NAME=URL,ROOT.pem (or ARCHIVER_TSA)",
            EXIT_USAGE,
        )
    check_tag_files(bag)
    with locked(bag):
        rel: str | None = write_statement(bag, datetime.now(UTC))
        results = stamp_files(bag, [str(rel)], tsas, timeout=timeout)
        if not any(r.ok for r in results):
            (bag / str(rel)).unlink()
            rel = None
        log = custody_log or custody.default_log(bag)
        custody.append_event(
            log,
            "timestamped",
            bag=bag,
            actor=actor,
            details={"renewal": rel, "tsas": [r.to_dict() for r in results]},
        )
        custody.copy_into_bag(log, bag)
    return rel, results


def renew_command(
    bag: Path,
    tsas: list[TsaConfig],
    *,
    timeout: float = 30,
    as_json: bool = False,
    custody_log: Path | None = None,
    actor: str = "",
) -> int:
    """``archiver timestamp BAG --renew``: a renewal statement and its tokens; exit 3 if none."""
    statement, results = renew_bag(bag, tsas, timeout=timeout, custody_log=custody_log, actor=actor)
    return report_results(bag, results, as_json=as_json, extra={"renewal": statement})
