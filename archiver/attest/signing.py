"""The organisation's signed statement about a bag (checked by ``signaturecheck``).

A timestamp says *when*; a signature says *who* vouches for the bag. The statement names the
bag and the digest of each tag manifest (which cover every payload byte), is written once as
canonical JSON (sorted keys, no spaces, ASCII) and signed over its exact file bytes with Ed25519.
The raw 64-byte signature is then timestamped, so a signature made before a key was stolen stays
provably earlier than the theft. Everything goes into ``provenance-anchors/``; the private key
never does.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.attest import custody
from archiver.attest.anchors import (
    ANCHORS_DIR,
    KEY_ID,
    PUBLIC_KEY,
    SIGNATURE,
    STATEMENT,
    add_to_index,
    locked,
    read_index,
)
from archiver.attest.keys import (
    key_id,
    load_private_key,
    public_pem,
)
from archiver.attest.timestamp import stamp_files
from archiver.attest.tsa import TsaConfig, TsaResult
from archiver.bag.reader import (
    bag_info_value,
    check_tag_files,
    read_bag_info,
    require_sealed_bag,
    tag_manifests,
)
from archiver.base import faults
from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import write_new
from archiver.base.timefmt import utc_iso

STATEMENT_TYPE = "bag-statement/1"


@dataclass
class SignResult:
    statement: Path
    signature: Path
    public_key: Path
    key_id: str
    timestamps: list[TsaResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": str(self.statement),
            "signature": str(self.signature),
            "public_key": str(self.public_key),
            "key_id": self.key_id,
            "timestamps": [t.to_dict() for t in self.timestamps],
        }


def canonical_json(obj: Any) -> bytes:
    """One fixed serialisation, so the signed bytes are reproducible from the same data."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _algorithm(tagmanifest: str) -> str:
    return tagmanifest.removeprefix("tagmanifest-").removesuffix(".txt")


def tagmanifest_digests(bag: Path) -> dict[str, str]:
    """Each tag manifest's hex digest under its own algorithm (sha256 file -> SHA-256)."""
    return {
        name: hashlib.new(_algorithm(name), (bag / name).read_bytes()).hexdigest()
        for name in tag_manifests(bag)
    }


def build_statement(
    bag: Path, *, org: str, signer_key_id: str, created: datetime
) -> dict[str, Any]:
    """The statement to sign; ``signer.org`` is left out when no organisation is given.

    An absent field says "not stated"; an empty string would be a claim about nobody.
    """
    info = read_bag_info(bag)
    signer = (
        {"org": org.strip(), "key_id": signer_key_id} if org.strip() else {"key_id": signer_key_id}
    )
    return {
        "type": STATEMENT_TYPE,
        "bag_id": bag_info_value(info, "External-Identifier") or bag.name,
        "created": utc_iso(created, micros=False),
        "tagmanifests": tagmanifest_digests(bag),
        "signer": signer,
    }


def sign_bag(
    bag: Path,
    private_key_path: Path,
    *,
    org: str = "",
    tsas: Sequence[TsaConfig],
    timeout: float = 30,
    custody_log: Path | None = None,
    actor: str = "",
) -> SignResult:
    """Write and sign the bag statement, then timestamp the signature with every TSA.

    ``org`` may be empty (``archiver run`` without ``--organisation`` must not capture
    everything and then fail here): the key id alone then names the signer.
    """
    require_sealed_bag(bag)
    org = (org or "").strip()  # RunOptions may carry None
    if private_key_path.resolve().is_relative_to(bag.resolve()):
        raise ArchiverError(
            f"{private_key_path}: a private key inside the bag would be shipped with it; "
            "keep keys outside bags",
            EXIT_USAGE,
        )
    key = load_private_key(private_key_path)
    kid = key_id(key.public_key())
    check_tag_files(bag)
    with locked(bag) as folder:
        if (folder / STATEMENT).exists():
            raise ArchiverError(
                f"{bag}: already signed ({ANCHORS_DIR}/{STATEMENT}); a signature is never replaced",
                EXIT_USAGE,
            )
        body = canonical_json(
            build_statement(bag, org=org, signer_key_id=kid, created=datetime.now(UTC))
        )
        signature = key.sign(body)
        write_new(folder, PUBLIC_KEY, public_pem(key.public_key()))
        write_new(folder, KEY_ID, (kid + "\n").encode())
        write_new(folder, STATEMENT, body)
        write_new(folder, SIGNATURE, signature)
        faults.point("sign.signature-written")
        add_to_index(bag, [_signature_anchor(kid, org)])
        results = stamp_files(bag, [f"{ANCHORS_DIR}/{SIGNATURE}"], tsas, timeout=timeout)
        if custody_log is not None:
            custody.append_event(
                custody_log,
                "signed",
                bag=bag,
                actor=actor or kid,
                details={"key_id": kid, "org": org, "tsas": [r.to_dict() for r in results]},
            )
            custody.copy_into_bag(custody_log, bag)
    return SignResult(folder / STATEMENT, folder / SIGNATURE, folder / PUBLIC_KEY, kid, results)


def _signature_anchor(kid: str, org: str) -> dict[str, str]:
    """The index entry for the bag statement's signature."""
    return {
        "type": "ed25519",
        "file": f"{ANCHORS_DIR}/{SIGNATURE}",
        "target": f"{ANCHORS_DIR}/{STATEMENT}",
        "key_id": kid,
        "public_key": f"{ANCHORS_DIR}/{PUBLIC_KEY}",
        "org": org,
    }


def finish_signature(
    bag: Path,
    key: Path,
    *,
    org: str,
    tsas: Sequence[TsaConfig],
    custody_log: Path,
    actor: str = "",
) -> None:
    """Sign the bag, or finish a signature written before a crash but not yet recorded.

    ``archiver run`` resumes through here: the index entry, tokens and custody event of a
    signature whose files are already written are added once, never a second signature.
    """
    folder = bag / ANCHORS_DIR
    if not ((folder / SIGNATURE).is_file() and (folder / STATEMENT).is_file()):
        # A statement without its signature was never signed: written by this run, unrecorded.
        for leftover in (PUBLIC_KEY, KEY_ID, STATEMENT):
            (folder / leftover).unlink(missing_ok=True)
        sign_bag(bag, key, org=org, tsas=tsas, custody_log=custody_log, actor=actor)
        return
    kid = (folder / KEY_ID).read_text("utf-8").strip()
    org = (org or "").strip()
    with locked(bag):
        if not any(a.get("type") == "ed25519" for a in read_index(bag)["anchors"]):
            add_to_index(bag, [_signature_anchor(kid, org)])
        results = stamp_files(bag, [f"{ANCHORS_DIR}/{SIGNATURE}"], tsas) if tsas else []
        custody.append_event(
            custody_log,
            "signed",
            bag=bag,
            actor=actor or kid,
            details={"key_id": kid, "org": org, "tsas": [r.to_dict() for r in results]},
        )


def sign_command(
    bag: Path,
    key: Path,
    *,
    org: str = "",
    tsas: Sequence[TsaConfig],
    timeout: float = 30,
    as_json: bool = False,
    custody_log: Path | None = None,
    actor: str = "",
) -> int:
    """``archiver sign BAG --key KEY [--org ORG] [--tsa ...]``."""
    result = sign_bag(
        bag,
        key,
        org=org,
        tsas=tsas,
        timeout=timeout,
        custody_log=custody_log or custody.default_log(bag),
        actor=actor,
    )
    if as_json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"signed {bag} with {result.key_id}: {result.signature}")
        for r in result.timestamps:
            state = f"token at {r.gen_time}" if r.ok else f"FAILED ({r.error})"
            print(f"  signature timestamp {r.name}: {state}")
    return EXIT_OK
