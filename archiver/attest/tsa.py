"""Time-stamping authorities: their configuration, and asking one for an RFC 3161 token.

A request goes through the recording session and the address policy, so a TSA is reached the
same audited way as a captured page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.timefmt import compact, utc_iso
from archiver.net.netpolicy import AddressPolicy, PrivateAddressError, refusal_message

# cryptography (~20-35 ms to import) and the recording session are imported where a
# certificate is read or a TSA is asked: a run that configures no TSA only needs TsaConfig and
# the option parsing from here.
if TYPE_CHECKING:
    from cryptography import x509

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


class TsaError(Exception):
    """A TSA did not give a usable token (down, refused, bad answer)."""


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
    from cryptography import x509

    certs: list[x509.Certificate] = []
    for path in paths:
        try:
            certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        except (OSError, ValueError) as err:
            raise ArchiverError(f"{path}: not a readable PEM certificate file ({err})") from err
    return certs


def _pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return "sha256:" + cert.fingerprint(hashes.SHA256()).hex()


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

    from archiver.net.recorder import recording
    from archiver.net.session import recording_session

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
    return utc_iso(moment, micros=False)


def _compact(moment: datetime) -> str:
    return compact(moment)
