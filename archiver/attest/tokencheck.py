"""Checking RFC 3161 tokens: imprint, signature, chain to an independent root, time sanity."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from archiver.attest.anchors import (
    ANCHORS_DIR,
    CHAINS_DIR,
    read_index,
)
from archiver.attest.tsa import (
    _OIDS,
    CLOCK_TOLERANCE,
    ROOT_UNVERIFIED,
    TOKEN_SUFFIX,
    _gen_time,
    _iso,
    _load_pems,
    _short,
    fingerprint,
    tsas_from_environment,
)
from archiver.bag.reader import (
    bag_info_value,
    read_bag_info,
)
from archiver.base.problems import Problem
from archiver.base.timefmt import parse_iso


@dataclass
class TokenCheck:
    """The verdict on one stored token."""

    file: str  # relative to the bag root
    tsa: str
    target: str  # the file the token covers, relative to the bag root
    gen_time: str | None
    ok: bool
    problem: Problem | None = None
    verified_with: str = ""  # which root: "extra root ..." or "root stored in the bag ..."

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "tsa": self.tsa,
            "target": self.target,
            "gen_time": self.gen_time,
            "ok": self.ok,
            "verified_with": self.verified_with,
            "problem": self.problem.to_dict() if self.problem else None,
        }


def _split_token_name(name: str) -> tuple[str, str] | None:
    """``<target>.<tsa>.<time>[-n].tsr`` -> (target file name, tsa)."""
    if not name.endswith(TOKEN_SUFFIX):
        return None
    parts = name[: -len(TOKEN_SUFFIX)].rsplit(".", 2)
    if len(parts) != 3:
        return None
    return parts[0], parts[1]


def _locate_target(bag: Path, target_name: str) -> str:
    if (bag / ANCHORS_DIR / target_name).is_file():
        return f"{ANCHORS_DIR}/{target_name}"
    return target_name


def _capture_start(bag: Path) -> datetime | None:
    value = bag_info_value(read_bag_info(bag), "Capture-Start")
    if not value:
        return None
    return parse_iso(value)


def _read_bundle(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes()) if path.is_file() else []
    except (OSError, ValueError):
        return []


def _self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def independent_roots(extra_roots: Sequence[Path] = ()) -> list[tuple[Path, str]]:
    """Root files trusted without looking at the bag: ``--tsa-root``, then ``ARCHIVER_TSA``.

    Roots stored in a bag cannot be trusted: whoever rewrites the bag can timestamp it with a
    home-made TSA and store that TSA's root beside the token. The system/certifi CA bundle is
    deliberately not used: its roots are vetted for TLS servers, not for time-stamping, and
    which of ~150 roots a token chains to would then depend on the verifying machine.
    """
    roots = [(Path(p), f"--tsa-root {p}") for p in extra_roots]
    for tsa in tsas_from_environment():
        roots += [(r, f"root of TSA {tsa.name} configured in ARCHIVER_TSA, {r}") for r in tsa.roots]
    return roots


def _trust_material(
    bag: Path, tsa: str, roots: Sequence[tuple[Path, str]]
) -> tuple[
    list[tuple[x509.Certificate, str]], list[tuple[x509.Certificate, str]], list[x509.Certificate]
]:
    """(independent roots, roots stored in the bag, intermediates), each root with its label.

    A root file may be a bundle (intermediate + root, as many TSAs publish them): its
    self-issued certificates are candidate roots, the others only help to build the path.
    Intermediates from the bag are fine for path building: trust comes from the root alone.
    Each root is tried alone, so the report can say which one the token chains to.
    """
    chain = _read_bundle(bag / ANCHORS_DIR / CHAINS_DIR / f"{tsa}.chain.pem")
    intermediates: list[x509.Certificate] = [c for c in chain if not _self_issued(c) and _is_ca(c)]

    def candidates(
        certs: list[x509.Certificate], origin: str
    ) -> list[tuple[x509.Certificate, str]]:
        intermediates.extend(c for c in certs if not _self_issued(c) and _is_ca(c))
        found = [c for c in certs if _self_issued(c)] or certs
        return [(c, f"{origin} ({c.subject.rfc4514_string()}, {fingerprint(c)})") for c in found]

    trusted: list[tuple[x509.Certificate, str]] = []
    for path, origin in roots:
        trusted += candidates(_load_pems([path]), origin)
    stored_path = bag / ANCHORS_DIR / CHAINS_DIR / f"{tsa}.roots.pem"
    stored_label = f"the root stored in the bag, {stored_path.relative_to(bag).as_posix()}"
    stored = candidates(_read_bundle(stored_path), stored_label)
    unique = list({c.public_bytes(serialization.Encoding.DER): c for c in intermediates}.values())
    return trusted, stored, unique


def check_token(
    bag: Path,
    token_file: Path,
    *,
    extra_roots: Sequence[Path] = (),
    roots: Sequence[tuple[Path, str]] | None = None,
) -> TokenCheck:
    """Verify one stored token: readable, imprint = current target bytes, chain, time.

    ``roots`` (default: ``independent_roots(extra_roots)``) are the trust anchors. A token that
    chains only to a root stored in the bag is not ``ok`` and gets a ``timestamp-root-unverified``
    warning naming that root; its imprint and time are still checked, and their failures win.
    """
    rel = token_file.relative_to(bag).as_posix()
    parsed = _split_token_name(token_file.name)
    target_name, tsa = parsed if parsed else ("", "")
    target = _locate_target(bag, target_name) if target_name else ""

    def fail(code: str, message: str, gen: str | None = None) -> TokenCheck:
        return TokenCheck(rel, tsa, target, gen, False, Problem(code, rel, message))

    if parsed is None:
        return fail("timestamp-unreadable", "token file name is not <file>.<tsa>.<time>.tsr")
    try:
        response, gen_dt, algorithm, imprint = _read_token(token_file)
    except Exception as err:  # damaged DER: the Rust decoder raises several types
        return fail("timestamp-unreadable", f"not a readable RFC 3161 response ({_short(err)})")
    gen = _iso(gen_dt)
    if not (bag / target).is_file():
        return fail("timestamp-target-missing", f"the file it covers, {target}, is missing", gen)
    if algorithm is None:
        return fail("timestamp-unreadable", "unsupported imprint hash algorithm", gen)
    digest = hashlib.new(algorithm, (bag / target).read_bytes()).digest()
    if digest != imprint:
        return fail(
            "timestamp-imprint-mismatch",
            f"{target} has changed since it was timestamped by {tsa} at {gen}",
            gen,
        )
    trusted, stored, intermediates = _trust_material(
        bag, tsa, independent_roots(extra_roots) if roots is None else roots
    )
    if not trusted and not stored:
        return fail(
            "timestamp-untrusted-chain",
            f"no root to check {tsa}'s chain against (none stored in the bag, none given)",
            gen,
        )
    verified_with, independent, last_error = _verify_against(
        response, digest, [*trusted, *stored], len(trusted), intermediates
    )
    if not verified_with:
        return fail(
            "timestamp-untrusted-chain",
            f"the token's signature or certificate chain does not verify to any root "
            f"({last_error})",
            gen,
        )
    problem = _time_or_trust_problem(bag, rel, gen_dt, verified_with, independent)
    return TokenCheck(rel, tsa, target, gen, problem is None, problem, verified_with)


def _read_token(token_file: Path) -> tuple[Any, datetime, str | None, bytes]:
    """The response, its genTime, imprint hash algorithm (None: unsupported) and imprint."""
    from rfc3161_client import decode_timestamp_response

    response = decode_timestamp_response(token_file.read_bytes())
    info = response.tst_info
    algorithm = _OIDS.get(info.message_imprint.hash_algorithm.dotted_string)
    return response, _gen_time(response), algorithm, info.message_imprint.message


def _verify_against(
    response: Any,
    digest: bytes,
    roots: list[tuple[x509.Certificate, str]],
    independent_count: int,
    intermediates: list[x509.Certificate],
) -> tuple[str, bool, str]:
    """Try each root in order; (label of the first that verifies, independent?, last error)."""
    from rfc3161_client import VerificationError, VerifierBuilder

    last_error = ""
    for n, (root, label) in enumerate(roots):
        verifier = VerifierBuilder(roots=[root], intermediates=list(intermediates)).build()
        try:
            verifier.verify(response, digest)
        except VerificationError as err:
            last_error = _short(err)
            continue
        return label, n < independent_count, last_error
    return "", False, last_error


def _time_or_trust_problem(
    bag: Path, rel: str, gen_dt: datetime, verified_with: str, independent: bool
) -> Problem | None:
    """An impossible genTime (before capture) is an error; a bag-stored-only root a warning."""
    start = _capture_start(bag)
    if start is not None and gen_dt + CLOCK_TOLERANCE < start:
        return Problem(
            "timestamp-before-capture",
            rel,
            f"genTime {_iso(gen_dt)} is before the bag's Capture-Start {_iso(start)}: impossible "
            "for a genuine token over this capture",
        )
    if not independent:
        return Problem(
            ROOT_UNVERIFIED,
            rel,
            f"verifies only against {verified_with}, which whoever changed the bag could "
            "have replaced; pass --tsa-root with a root obtained independently",
            "warning",
        )
    return None


def verify_bag_timestamps(bag: Path, *, extra_roots: Sequence[Path] = ()) -> list[TokenCheck]:
    """Check every token in ``provenance-anchors/``, and that none listed in the index is gone."""
    folder = bag / ANCHORS_DIR
    if not folder.is_dir():
        return []
    roots = independent_roots(extra_roots)
    checks = [
        check_token(bag, path, roots=roots)
        for path in sorted(folder.glob(f"*{TOKEN_SUFFIX}"))
        if path.is_file()
    ]
    seen = {c.file for c in checks}
    for anchor in read_index(bag)["anchors"]:
        rel = anchor.get("file") if isinstance(anchor, dict) else None
        if anchor.get("type") == "rfc3161" and isinstance(rel, str) and rel not in seen:
            seen.add(rel)
            checks.append(
                TokenCheck(
                    rel,
                    str(anchor.get("tsa", "")),
                    str(anchor.get("target", "")),
                    anchor.get("gen_time"),
                    False,
                    Problem(
                        "timestamp-missing",
                        rel,
                        "listed in anchors.json but the token file is gone",
                    ),
                )
            )
    return checks


def describe_check(check: TokenCheck) -> str:
    """One line for a human report."""
    head = f"{check.file}: {check.tsa or '?'} over {check.target or '?'}"
    if check.ok:
        return f"timestamp OK, {head} at {check.gen_time}; {check.verified_with}"
    assert check.problem is not None
    if check.problem.code == ROOT_UNVERIFIED:
        return (
            f"timestamp ROOT UNVERIFIED, {head} at {check.gen_time}: would verify against "
            f"{check.verified_with}; pass --tsa-root with a root obtained independently "
            f"[{ROOT_UNVERIFIED}]"
        )
    return f"timestamp FAILED, {head}: {check.problem.message} [{check.problem.code}]"


def timestamp_problems(checks: Sequence[TokenCheck]) -> list[Problem]:
    """The problems among ``checks``, for ``archiver verify``'s problem list."""
    return [c.problem for c in checks if c.problem is not None]


def covered_tag_manifests(checks: Sequence[TokenCheck]) -> set[str]:
    """Tag manifests covered by at least one good token."""
    return {c.target for c in checks if c.ok and c.target.startswith("tagmanifest-")}
