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
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from archiver import custody
from archiver.anchors import (
    ANCHORS_DIR,
    CHAINS_DIR,
    INDEX_NAME,
    add_to_index,
    anchors_dir,
    locked,
    merge_pem,
    read_index,
)
from archiver.bag.reader import (
    bag_info_value,
    check_tag_files,
    read_bag_info,
    require_sealed_bag,
    tag_manifests,
)
from archiver.base import faults
from archiver.base.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import free_name, write_new
from archiver.base.problems import Problem
from archiver.base.timefmt import parse_iso
from archiver.capture.netpolicy import AddressPolicy, PrivateAddressError, refusal_message
from archiver.capture.recorder import recording, recording_session

TSA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TOKEN_SUFFIX = ".tsr"
ROOT_UNVERIFIED = "timestamp-root-unverified"
# genTime may trail the bag's Capture-Start by this much before it is called impossible: the
# capture host's clock is not a trusted clock, and a few seconds of drift is not tampering.
CLOCK_TOLERANCE = timedelta(minutes=2)
_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


@dataclass(frozen=True)
class TsaConfig:
    """One time-stamping authority: a short name (used in file names), its URL, its roots."""

    name: str
    url: str
    roots: list[Path] = field(default_factory=list)
    # True for a collection's [[tsa]] table: a file someone else wrote must not make us POST
    # to the operator's own network, so a private address is refused unless --allow-private.
    refuse_private: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not TSA_NAME.match(self.name):
            raise ArchiverError(
                f"TSA name {self.name!r}: use letters, digits, '-' or '_' (it names files)",
                EXIT_USAGE,
            )
        if not self.url.startswith(("http://", "https://")):
            raise ArchiverError(f"TSA {self.name}: URL {self.url!r} is not http(s)", EXIT_USAGE)
        if not self.roots:
            raise ArchiverError(
                f"TSA {self.name}: give its root certificate(s) as PEM "
                f"(--tsa {self.name}=URL,ROOT.pem); tokens are checked before they are kept",
                EXIT_USAGE,
            )


@dataclass
class TsaResult:
    """What one TSA did for one request batch: the token files written, or why it failed."""

    name: str
    url: str
    ok: bool
    files: list[str] = field(default_factory=list)  # relative to the bag root
    gen_time: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tsa": self.name,
            "url": self.url,
            "ok": self.ok,
            "files": self.files,
            "gen_time": self.gen_time,
            "error": self.error,
        }


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


class TsaError(Exception):
    """A TSA did not give a usable token (down, refused, bad answer)."""


# -- configuration -----------------------------------------------------------------------------


def parse_tsa_option(text: str) -> TsaConfig:
    """``NAME=URL,ROOT.pem[,ROOT2.pem...]`` (the ``--tsa`` option and ``ARCHIVER_TSA``)."""
    name, sep, rest = text.partition("=")
    parts = [p.strip() for p in rest.split(",")] if sep else []
    if not sep or not name.strip() or not parts or not parts[0]:
        raise ArchiverError(
            f"--tsa {text!r}: expected NAME=URL,ROOT.pem (e.g. "
            "--tsa dfn=http://zeitstempel.dfn.de,dfn-root.pem)",
            EXIT_USAGE,
        )
    roots = [Path(p) for p in parts[1:] if p]
    for root in roots:
        if not root.is_file():
            raise ArchiverError(f"--tsa {name}: root certificate {root} not found", EXIT_USAGE)
    return TsaConfig(name.strip(), parts[0], roots)


def tsas_from_table(
    items: Sequence[dict[str, Any]], base: Path | None = None, *, refuse_private: bool = False
) -> list[TsaConfig]:
    """``[[tsa]]`` tables (name, url, roots = [..]) from a TOML file; paths relative to ``base``.

    ``refuse_private``: the tables come from a collection file (see TsaConfig).
    """
    out: list[TsaConfig] = []
    for item in items:
        if not isinstance(item, dict) or not {"name", "url"} <= item.keys():
            raise ArchiverError('[[tsa]] needs name, url and roots = ["root.pem"]', EXIT_USAGE)
        roots = [Path(r) if base is None else base / r for r in item.get("roots", [])]
        for root in roots:
            if not root.is_file():
                raise ArchiverError(f"[[tsa]] {item['name']}: root {root} not found", EXIT_USAGE)
        out.append(TsaConfig(str(item["name"]), str(item["url"]), roots, refuse_private))
    return out


def tsas_from_environment(env: dict[str, str] | None = None) -> list[TsaConfig]:
    """``ARCHIVER_TSA="a=URL,root.pem;b=URL,root.pem"``."""
    value = (env if env is not None else os.environ).get("ARCHIVER_TSA", "")
    return [parse_tsa_option(p.strip()) for p in value.split(";") if p.strip()]


def tsas_from_options(values: Sequence[str] | None) -> list[TsaConfig]:
    """The TSAs for a command: its ``--tsa`` options, else ``ARCHIVER_TSA``; names unique."""
    tsas = [parse_tsa_option(v) for v in values or []] or tsas_from_environment()
    names = [t.name for t in tsas]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ArchiverError(f"--tsa: name(s) {', '.join(dupes)} given twice", EXIT_USAGE)
    return tsas


def _load_pems(paths: Sequence[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in paths:
        try:
            certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        except (OSError, ValueError) as err:
            raise ArchiverError(f"{path}: not a readable PEM certificate file ({err})") from err
    return certs


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    return "sha256:" + cert.fingerprint(hashes.SHA256()).hex()


# -- requesting --------------------------------------------------------------------------------


def request_token(data: bytes, tsa: TsaConfig, *, sha512: bool = False, timeout: float = 30) -> Any:
    """Ask ``tsa`` for a token over ``data``; check nonce, imprint and chain before returning it.

    Returns the decoded ``TimeStampResponse``; ``.as_bytes()`` is what gets stored.
    """
    import requests
    from rfc3161_client import (
        HashAlgorithm,
        TimestampRequestBuilder,
        VerificationError,
        VerifierBuilder,
        decode_timestamp_response,
    )

    algorithm = HashAlgorithm.SHA512 if sha512 else HashAlgorithm.SHA256
    request = TimestampRequestBuilder().data(data).hash_algorithm(algorithm).build()
    try:
        reply = _post(
            tsa,
            request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=timeout,
        )
    except requests.RequestException as err:
        refused = _find_cause(err, PrivateAddressError)
        if refused is not None:
            raise TsaError(
                f"[[tsa]] URL refused: {refusal_message(tsa.url, str(refused))}"
            ) from err
        raise TsaError(f"{type(err).__name__}: {_short(err)}") from err
    if reply.status_code != 200:
        raise TsaError(f"HTTP {reply.status_code} {reply.reason}")
    try:
        response = decode_timestamp_response(reply.content)
    except Exception as err:  # the Rust decoder raises ValueError and friends
        raise TsaError(f"the answer is not an RFC 3161 response ({_short(err)})") from err
    roots = _load_pems(tsa.roots)
    verifier = VerifierBuilder(nonce=request.nonce, roots=roots).build()
    try:
        verifier.verify_message(response, data)
    except VerificationError as err:
        raise TsaError(
            f"the token does not verify against the configured roots ({_short(err)})"
        ) from err
    return response


#: Longest error message kept in anchors.json, the custody log and on screen.
MAX_MESSAGE = 300


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """The whole message on one line; if longer than ``limit``, cut with an explicit '…'."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _post(tsa: TsaConfig, data: bytes, *, headers: dict[str, str], timeout: float) -> Any:
    """POST to the TSA; for a collection's TSA, through a connection that refuses private
    addresses when it connects (and, behind a proxy, refuses literal private IPs and
    localhost before anything is sent)."""
    import requests

    if not tsa.refuse_private:
        return requests.post(tsa.url, data=data, headers=headers, timeout=timeout)
    from urllib.parse import urlsplit

    policy = AddressPolicy(allow_private=False)
    parts = urlsplit(tsa.url)
    reason = policy.name_refusal(parts.hostname or "", parts.port)
    if reason is not None:
        raise TsaError(f"[[tsa]] URL refused: {refusal_message(tsa.url, reason)}")
    with recording(policy=policy) as rec, recording_session() as session:
        try:
            return session.post(tsa.url, data=data, headers=headers, timeout=timeout)
        finally:
            for exchange in rec.exchanges:
                exchange.close()


def _find_cause(err: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` among ``err``'s causes, contexts and arguments (urllib3 nests them)."""
    seen: set[int] = set()
    todo: list[Any] = [err]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])
    return None


def _short(err: BaseException) -> str:
    """The reason, not the wrapping: OpenSSL's verify error, or the socket error that
    urllib3 nests inside two layers of connection-pool repr."""
    text = str(err) or type(err).__name__
    found = re.search(r"Verify error: ([^\"]+)", text)  # OpenSSL's reason inside an ErrorStack
    if found:
        return one_line(found.group(1))
    found = re.search(r"(Failed to establish a new connection: )?\[Errno -?\d+\][^'\"()]*", text)
    if found:
        return one_line(found.group(0))
    return one_line(text)


def _gen_time(response: Any) -> datetime:
    moment: datetime = response.tst_info.gen_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def stamp_files(
    bag: Path, targets: Sequence[str], tsas: Sequence[TsaConfig], *, timeout: float = 30
) -> list[TsaResult]:
    """Get a token over each target (relative to the bag root) from each TSA and store it.

    A TSA that fails is recorded in ``anchors.json`` and in its ``TsaResult``; the others go on.
    The caller holds ``anchors.locked(bag)``.
    """
    folder = anchors_dir(bag, create=True)
    chains = folder / CHAINS_DIR
    results: list[TsaResult] = []
    for tsa in tsas:
        result = TsaResult(tsa.name, tsa.url, ok=False)
        anchors: list[dict[str, Any]] = []
        try:
            roots = _load_pems(tsa.roots)
            for target in targets:
                data = (bag / target).read_bytes()
                sha512 = "sha512" in Path(target).name
                response = request_token(data, tsa, sha512=sha512, timeout=timeout)
                gen = _gen_time(response)
                stem = f"{Path(target).name}.{tsa.name}.{_compact(gen)}"
                name = free_name(folder, stem, TOKEN_SUFFIX)
                write_new(folder, name, response.as_bytes())
                faults.point("timestamp.token-written")
                embedded = [
                    x509.load_der_x509_certificate(der) for der in response.signed_data.certificates
                ]
                chains.mkdir(exist_ok=True)  # only once there is a chain to keep
                merge_pem(chains / f"{tsa.name}.chain.pem", [_pem(c) for c in embedded])
                merge_pem(chains / f"{tsa.name}.roots.pem", [_pem(c) for c in roots])
                rel = f"{ANCHORS_DIR}/{name}"
                result.files.append(rel)
                result.gen_time = _iso(gen)
                anchors.append(
                    {
                        "type": "rfc3161",
                        "file": rel,
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
                )
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


# -- verifying ---------------------------------------------------------------------------------


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
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    rel = token_file.relative_to(bag).as_posix()
    parsed = _split_token_name(token_file.name)
    target_name, tsa = parsed if parsed else ("", "")
    target = _locate_target(bag, target_name) if target_name else ""

    def fail(code: str, message: str, gen: str | None = None) -> TokenCheck:
        return TokenCheck(rel, tsa, target, gen, False, Problem(code, rel, message))

    if parsed is None:
        return fail("timestamp-unreadable", "token file name is not <file>.<tsa>.<time>.tsr")
    try:
        response = decode_timestamp_response(token_file.read_bytes())
        gen_dt = _gen_time(response)
        info = response.tst_info
        algorithm = _OIDS.get(info.message_imprint.hash_algorithm.dotted_string)
        imprint = info.message_imprint.message
    except Exception as err:  # damaged DER: the Rust decoder raises several types
        return fail("timestamp-unreadable", f"not a readable RFC 3161 response ({_short(err)})")
    gen = _iso(gen_dt)
    target_path = bag / target
    if not target_path.is_file():
        return fail("timestamp-target-missing", f"the file it covers, {target}, is missing", gen)
    if algorithm is None:
        return fail("timestamp-unreadable", "unsupported imprint hash algorithm", gen)
    digest = hashlib.new(algorithm, target_path.read_bytes()).digest()
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
    verified_with = ""
    independent = False
    last_error = ""
    for n, (root, label) in enumerate([*trusted, *stored]):
        verifier = VerifierBuilder(roots=[root], intermediates=list(intermediates)).build()
        try:
            verifier.verify(response, digest)
        except VerificationError as err:
            last_error = _short(err)
            continue
        verified_with, independent = label, n < len(trusted)
        break
    if not verified_with:
        return fail(
            "timestamp-untrusted-chain",
            f"the token's signature or certificate chain does not verify to any root "
            f"({last_error})",
            gen,
        )
    start = _capture_start(bag)
    if start is not None and gen_dt + CLOCK_TOLERANCE < start:
        return TokenCheck(
            rel,
            tsa,
            target,
            gen,
            False,
            Problem(
                "timestamp-before-capture",
                rel,
                f"genTime {gen} is before the bag's Capture-Start {_iso(start)}: impossible for "
                "a genuine token over this capture",
            ),
            verified_with,
        )
    if not independent:
        return TokenCheck(
            rel,
            tsa,
            target,
            gen,
            False,
            Problem(
                ROOT_UNVERIFIED,
                rel,
                f"verifies only against {verified_with}, which whoever changed the bag could "
                "have replaced; pass --tsa-root with a root obtained independently",
                "warning",
            ),
            verified_with,
        )
    return TokenCheck(rel, tsa, target, gen, True, None, verified_with)


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
    if as_json:
        json.dump(
            {"bag": str(bag), "results": [r.to_dict() for r in results]}, sys.stdout, indent=2
        )
        sys.stdout.write("\n")
    else:
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
