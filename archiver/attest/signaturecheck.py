"""Check a bag's signed statement: signature, key, covered tag manifests, and its timestamps.

The reading side of ``signing``: it needs the statement's format from there and the token
checks from ``tokencheck``, and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from archiver.attest.anchors import ANCHORS_DIR, PUBLIC_KEY, SIGNATURE, STATEMENT, anchors_dir
from archiver.attest.keys import key_id, load_public_key, public_fingerprint
from archiver.attest.signing import STATEMENT_TYPE, tagmanifest_digests
from archiver.attest.tokencheck import TokenCheck, verify_bag_timestamps
from archiver.attest.tsa import ROOT_UNVERIFIED
from archiver.base.errors import ArchiverError
from archiver.base.problems import Problem


def signature_problems(
    bag: Path,
    checks: Sequence[TokenCheck],
    *,
    trusted_keys: Sequence[Path] = (),
    include_token_problems: bool = True,
) -> list[Problem]:
    """Problems with the bag statement, given the token checks already made for the bag."""
    folder = anchors_dir(bag)
    st_rel, sig_rel = f"{ANCHORS_DIR}/{STATEMENT}", f"{ANCHORS_DIR}/{SIGNATURE}"
    statement_path = folder / STATEMENT
    if not statement_path.exists() and not (folder / SIGNATURE).exists():
        return []
    problems: list[Problem] = []
    try:
        body = statement_path.read_bytes()
        signature = (folder / SIGNATURE).read_bytes()
        public = load_public_key(folder / PUBLIC_KEY)
    except (OSError, ArchiverError) as err:
        return [Problem("signature-unreadable", st_rel, f"statement, signature or key: {err}")]
    try:
        public.verify(signature, body)
    except InvalidSignature:
        problems.append(
            Problem(
                "signature-invalid",
                sig_rel,
                f"the Ed25519 signature does not match {STATEMENT} and {PUBLIC_KEY}: the "
                "statement or the signature was changed",
            )
        )
    try:
        statement = json.loads(body)
        assert isinstance(statement, dict) and statement.get("type") == STATEMENT_TYPE
        named: dict[str, str] = dict(statement["tagmanifests"])
        signer = dict(statement["signer"])
    except (ValueError, AssertionError, KeyError, TypeError):
        return problems + [Problem("signature-unreadable", st_rel, "not a bag-statement/1")]
    problems += _key_problems(
        public, signer, trusted_keys, sig_rel, st_rel, signature_ok=not problems
    )
    problems += _tagmanifest_problems(bag, named, signer)
    problems += _signature_token_problems(checks, sig_rel, include_token_problems)
    return problems


def _key_problems(
    public: Ed25519PublicKey,
    signer: dict[str, Any],
    trusted_keys: Sequence[Path],
    sig_rel: str,
    st_rel: str,
    *,
    signature_ok: bool,
) -> list[Problem]:
    """Is the signing key the one the statement names, and is it trusted from outside the bag?"""
    kid = key_id(public)
    problems: list[Problem] = []
    if signer.get("key_id") != kid:
        problems.append(
            Problem(
                "signature-key-mismatch",
                st_rel,
                f"the statement names key {signer.get('key_id')}, the bag carries {kid}",
            )
        )
    if trusted_keys:
        trusted = {key_id(load_public_key(p)) for p in trusted_keys}
        if kid not in trusted:
            problems.append(
                Problem(
                    "signature-untrusted-key",
                    sig_rel,
                    f"signed with {kid}, which is not among the trusted keys given",
                )
            )
    elif signature_ok and not problems:
        # A valid signature by the key the bag carries proves only that *someone* holding that
        # key signed: whoever rewrote the bag could have put their own key beside it.
        problems.append(
            Problem(
                "signature-key-unverified",
                sig_rel,
                f"signed by the key stored in the bag, {kid} ({PUBLIC_KEY}, "
                f"{public_fingerprint(public)}); compare it with the fingerprint the "
                "organisation publishes, or pass --trusted-key",
                "warning",
            )
        )
    return problems


def _tagmanifest_problems(
    bag: Path, named: dict[str, str], signer: dict[str, Any]
) -> list[Problem]:
    """Tag manifests changed, gone or added since the statement was signed."""
    problems: list[Problem] = []
    current = tagmanifest_digests(bag)
    for name, digest in sorted(named.items()):
        if name not in current:
            problems.append(
                Problem("signature-tagmanifest-mismatch", name, "signed, but no longer in the bag")
            )
        elif current[name] != digest:
            problems.append(
                Problem(
                    "signature-tagmanifest-mismatch",
                    name,
                    "differs from the digest in the signed statement: the bag changed after "
                    f"{signer.get('org') or signer.get('key_id')} signed it",
                )
            )
    for name in sorted(set(current) - set(named)):
        problems.append(
            Problem("signature-tagmanifest-mismatch", name, "not covered by the signed statement")
        )
    return problems


def _signature_token_problems(
    checks: Sequence[TokenCheck], sig_rel: str, include_token_problems: bool
) -> list[Problem]:
    """The signature's own timestamp tokens: their problems, and a warning if none verifies."""
    problems: list[Problem] = []
    sig_checks = [c for c in checks if c.target == sig_rel]
    if include_token_problems:
        problems.extend(c.problem for c in sig_checks if c.problem is not None)
    if not any(c.ok for c in sig_checks):
        unverified = any(c.problem and c.problem.code == ROOT_UNVERIFIED for c in sig_checks)
        problems.append(
            Problem(
                "signature-not-timestamped",
                sig_rel,
                "no token verified against an independently obtained root covers the "
                "signature, so when it was made is unproven; pass --tsa-root"
                if unverified
                else "no valid timestamp token covers the signature, so when it was made is "
                "unproven",
                "warning",
            )
        )
    return problems


def verify_bag_signatures(
    bag: Path, *, extra_roots: Sequence[Path] = (), trusted_keys: Sequence[Path] = ()
) -> list[Problem]:
    """Signature valid over the statement bytes, digests = current tag manifests, tokens valid."""
    checks = verify_bag_timestamps(bag, extra_roots=extra_roots)
    return signature_problems(bag, checks, trusted_keys=trusted_keys)
