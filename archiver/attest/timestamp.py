"""RFC 3161 trusted timestamps over a bag's tag manifests, from every configured TSA.

A hash proves nothing about *when*. A token from an independent time-stamping authority (TSA)
proves the tag manifests, and through them every payload byte, existed at the token's genTime.
Each ``tagmanifest-<alg>.txt`` is stamped with a matching imprint (SHA-256 for the sha256 file,
SHA-512 for the sha512 one), so either algorithm alone still anchors the bag. Tokens, the TSA
certificates they embed and the roots they were checked against go into ``provenance-anchors/``,
which no manifest lists, so adding a token later never invalidates the bag. Requests and
verification use ``rfc3161-client`` (Trail of Bits); HTTP uses ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from archiver.attest import custody
from archiver.attest.anchors import (
    ANCHORS_DIR,
    CHAINS_DIR,
    INDEX_NAME,
    add_to_index,
    anchors_dir,
    locked,
    merge_pem,
)
from archiver.attest.tsa import (
    TOKEN_SUFFIX,
    TsaConfig,
    TsaError,
    TsaResult,
    _compact,
    _gen_time,
    _iso,
    _load_pems,
    _pem,
    fingerprint,
    one_line,
    request_token,
)
from archiver.bag.reader import (
    check_tag_files,
    require_sealed_bag,
    tag_manifests,
)
from archiver.base import faults
from archiver.base.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import free_name, write_new

# -- configuration -----------------------------------------------------------------------------


# -- requesting --------------------------------------------------------------------------------


def stamp_files(
    bag: Path, targets: Sequence[str], tsas: Sequence[TsaConfig], *, timeout: float = 30
) -> list[TsaResult]:
    """Get a token over each target (relative to the bag root) from each TSA and store it.

    A TSA that fails is recorded in ``anchors.json`` and in its ``TsaResult``; the others go on.
    The caller holds ``anchors.locked(bag)``.
    """
    folder = anchors_dir(bag, create=True)
    results: list[TsaResult] = []
    for tsa in tsas:
        result = TsaResult(tsa.name, tsa.url, ok=False)
        anchors: list[dict[str, Any]] = []
        try:
            roots = _load_pems(tsa.roots)
            for target in targets:
                anchor = _stamp_one(bag, folder, target, tsa, roots, timeout)
                result.files.append(anchor["file"])
                result.gen_time = anchor["gen_time"]
                anchors.append(anchor)
            result.ok = True
        except (TsaError, ArchiverError, OSError) as err:
            result.error = one_line(str(err))
        failures = []
        if not result.ok:
            failures.append(
                {
                    "tsa": tsa.name,
                    "tsa_url": tsa.url,
                    "at": _iso(datetime.now(UTC)),
                    "error": result.error,
                    "targets": list(targets),
                }
            )
        add_to_index(bag, anchors, failures)
        results.append(result)
    return results


def _stamp_one(
    bag: Path,
    folder: Path,
    target: str,
    tsa: TsaConfig,
    roots: list[x509.Certificate],
    timeout: float,
) -> dict[str, Any]:
    """Get one token over ``target``, store it and the TSA's chain; its ``anchors.json`` entry."""
    chains = folder / CHAINS_DIR
    data = (bag / target).read_bytes()
    # SHA-512 for the sha512 tag manifest and for renewal statements (renewal-*.json), which
    # also guard against SHA-256 weakening one day (RFC 4998 hash-tree renewal).
    sha512 = "sha512" in Path(target).name or Path(target).name.startswith("renewal-")
    response = request_token(data, tsa, sha512=sha512, timeout=timeout)
    gen = _gen_time(response)
    stem = f"{Path(target).name}.{tsa.name}.{_compact(gen)}"
    name = free_name(folder, stem, TOKEN_SUFFIX)
    write_new(folder, name, response.as_bytes())
    faults.point("timestamp.token-written")
    embedded = [x509.load_der_x509_certificate(der) for der in response.signed_data.certificates]
    chains.mkdir(exist_ok=True)  # only once there is a chain to keep
    merge_pem(chains / f"{tsa.name}.chain.pem", [_pem(c) for c in embedded])
    merge_pem(chains / f"{tsa.name}.roots.pem", [_pem(c) for c in roots])
    return {
        "type": "rfc3161",
        "file": f"{ANCHORS_DIR}/{name}",
        "target": target,
        "target_digest": f"{'sha512' if sha512 else 'sha256'}:"
        + hashlib.new("sha512" if sha512 else "sha256", data).hexdigest(),
        "tsa": tsa.name,
        "tsa_url": tsa.url,
        "gen_time": _iso(gen),
        "serial": str(response.tst_info.serial_number),
        "policy": response.tst_info.policy.dotted_string,
        "chain": f"{ANCHORS_DIR}/{CHAINS_DIR}/{tsa.name}.chain.pem",
        "roots": f"{ANCHORS_DIR}/{CHAINS_DIR}/{tsa.name}.roots.pem",
        "root_fingerprints": [fingerprint(r) for r in roots],
        "verified_at": _iso(datetime.now(UTC)),
    }


def timestamp_bag(
    bag: Path,
    tsas: list[TsaConfig],
    *,
    timeout: float = 30,
    custody_log: Path | None = None,
    actor: str = "",
) -> list[TsaResult]:
    """Timestamp the bag's tag manifests with every TSA; never raises for a TSA that is down.

    With ``custody_log``, a ``timestamped`` event is appended (naming the tag-manifest digest
    and each TSA's outcome) and the bag's events are copied into ``provenance-anchors/``.
    """
    require_sealed_bag(bag)
    if not tsas:
        raise ArchiverError(
            "no TSA configured: give --tsa NAME=URL,ROOT.pem (two or more recommended)", EXIT_USAGE
        )
    check_tag_files(bag)
    with locked(bag):
        results = stamp_files(bag, tag_manifests(bag), tsas, timeout=timeout)
        if custody_log is not None:
            custody.append_event(
                custody_log,
                "timestamped",
                bag=bag,
                actor=actor,
                details={"tsas": [r.to_dict() for r in results]},
            )
            custody.copy_into_bag(custody_log, bag)
    return results


# -- command -----------------------------------------------------------------------------------


def timestamp_command(
    bag: Path,
    tsas: list[TsaConfig],
    *,
    timeout: float = 30,
    as_json: bool = False,
    custody_log: Path | None = None,
    actor: str = "",
) -> int:
    """``archiver timestamp BAG --tsa ...``: add tokens; exit 3 when no TSA gave one."""
    log = custody_log or custody.default_log(bag)
    results = timestamp_bag(bag, tsas, timeout=timeout, custody_log=log, actor=actor)
    return report_results(bag, results, as_json=as_json)


def report_results(
    bag: Path, results: list[TsaResult], *, as_json: bool, extra: dict[str, Any] | None = None
) -> int:
    """Print what each TSA did (human or JSON); exit 3 when none gave a token."""
    if as_json:
        out: dict[str, Any] = {"bag": str(bag), "results": [r.to_dict() for r in results]}
        json.dump({**out, **(extra or {})}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for key, value in (extra or {}).items():
            if value:
                print(f"{key}: {value}")
        for r in results:
            if r.ok:
                print(f"{r.name}: token at {r.gen_time}: {', '.join(r.files)}")
            else:
                print(f"{r.name}: FAILED ({r.error}); recorded in {ANCHORS_DIR}/anchors.json")
    if not any(r.ok for r in results):
        raise ArchiverError(
            f"{bag}: no TSA gave a token ({'; '.join(f'{r.name}: {r.error}' for r in results)}); "
            f"the failures were recorded in {ANCHORS_DIR}/{INDEX_NAME} and the custody log; "
            "the manifests and payload are unchanged and the bag is still valid, try again later",
            EXIT_RUN_FAILED,
        )
    return EXIT_OK
