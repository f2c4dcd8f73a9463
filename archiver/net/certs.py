"""Certificate chains of a TLS handshake: read from the socket, described, written as PEM.

The chain is read from the very ``SSLSocket`` the page travelled on, never from a second
connection (a second handshake could meet a different server or certificate).
"""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

from archiver.base.timefmt import utc_iso

PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1


def certificate_chain(sock: ssl.SSLSocket, *, verified: bool = False) -> list[bytes] | None:
    """DER certificates of this connection's handshake, leaf first.

    ``verified=False``: what the server presented, in its order. ``verified=True``: the chain
    OpenSSL built up to a trusted root. Python 3.13 has public ``get_(un)verified_chain()``;
    on 3.11/3.12 the same calls live on the private ``_sslobj``. Without them, only the leaf.
    """
    name = "get_verified_chain" if verified else "get_unverified_chain"
    getter = getattr(sock, name, None) or getattr(getattr(sock, "_sslobj", None), name, None)
    if getter is not None:
        try:
            chain = getter()
        except (ssl.SSLError, ValueError, AttributeError):
            chain = None
        if chain:
            return [_der(c) for c in chain]
    if verified:
        return None
    try:
        leaf = sock.getpeercert(binary_form=True)
    except (ssl.SSLError, ValueError):
        return None
    return [leaf] if leaf else None


def _der(cert: Any) -> bytes:
    if isinstance(cert, bytes):
        return cert
    der: bytes = cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
    return der


def pem_chain(chain: list[bytes]) -> bytes:
    """The chain as concatenated PEM blocks, leaf first (``application/pem-certificate-chain``)."""
    return "".join(ssl.DER_cert_to_PEM_cert(der) for der in chain).encode("ascii")


def describe_certificate(der: bytes) -> dict[str, Any]:
    """``{subject, issuer, not_before, not_after, sha256}``; names are RFC 4514 strings.

    A certificate ``cryptography`` cannot parse is still identified by its SHA-256.
    """
    out: dict[str, Any] = {
        "subject": None,
        "issuer": None,
        "not_before": None,
        "not_after": None,
        "sha256": hashlib.sha256(der).hexdigest(),
    }
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        out["subject"] = cert.subject.rfc4514_string()
        out["issuer"] = cert.issuer.rfc4514_string()
        out["not_before"] = utc_iso(cert.not_valid_before_utc, micros=False)
        out["not_after"] = utc_iso(cert.not_valid_after_utc, micros=False)
    except Exception:  # noqa: BLE001 - an odd certificate is still evidence; keep its hash
        pass
    return out
