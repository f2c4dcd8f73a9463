"""Organisation signing keys: Ed25519 pairs as PEM files (``archiver keys new``).

Ed25519 (via ``cryptography``) because signatures are small, deterministic and verifiable with
a stock ``openssl pkeyutl -verify -rawin``. The private key file is created with mode 0600, is
never overwritten, and must never be placed in a bag; only the public key travels with a bag.
A key is named by its fingerprint ``ed25519:<first 16 hex of sha256(raw public key)>``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import fsync_dir, write_new

PASSPHRASE_ENV = "ARCHIVER_KEY_PASSPHRASE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    key_id: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519:`` + first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def public_fingerprint(public_key: Ed25519PublicKey) -> str:
    """The full ``sha256:<64 hex>`` of the raw key, for comparing with a published fingerprint.

    The 16-hex key id names a key; the full digest is what resists a look-alike key.
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _passphrase(explicit: bytes | None) -> bytes | None:
    if explicit is not None:
        return explicit or None
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def new_key_pair(
    out: Path, name: str = "archiver-signing", *, passphrase: bytes | None = None
) -> KeyPair:
    """Write ``<name>.key.pem`` (0600, PKCS#8) and ``<name>.pub.pem`` into ``out``.

    The private key is encrypted when a passphrase is given (or ``ARCHIVER_KEY_PASSPHRASE``
    is set). Existing files are never overwritten.
    """
    if not _NAME.match(name):
        raise ArchiverError(
            f"key name {name!r}: use letters, digits, '.', '-' or '_' (it names files)", EXIT_USAGE
        )
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise ArchiverError(f"{out}: cannot create the key folder ({err.strerror})") from err
    private, public = out / f"{name}.key.pem", out / f"{name}.pub.pem"
    # lexists: a dangling symlink is a name taken too (it would make the second write fail).
    taken = [path for path in (private, public) if os.path.lexists(path)]
    if taken:
        raise ArchiverError(
            f"{taken[0]}: already exists; a key is never overwritten, and no file was written "
            "(choose another --name or --out)",
            EXIT_USAGE,
        )
    key = Ed25519PrivateKey.generate()
    secret = _passphrase(passphrase)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    write_new(out, private.name, pem, mode=0o600)
    try:
        write_new(out, public.name, public_pem(key.public_key()), mode=0o644)
    except BaseException:
        # Never leave half a pair: the private key just written has no public half to publish.
        private.unlink(missing_ok=True)
        fsync_dir(out)
        raise
    return KeyPair(private, public, key_id(key.public_key()))


def load_private_key(path: Path, *, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ArchiverError(f"{path}: cannot read the private key ({err.strerror})") from err
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase(passphrase))
    except TypeError as err:
        raise ArchiverError(
            f"{path}: the key is encrypted; set {PASSPHRASE_ENV} to its passphrase", EXIT_USAGE
        ) from err
    except ValueError as err:
        raise ArchiverError(
            f"{path}: not a readable PEM private key (wrong passphrase?); "
            "make one with `archiver keys new`",
            EXIT_USAGE,
        ) from err
    if not isinstance(key, Ed25519PrivateKey):
        raise ArchiverError(f"{path}: not an Ed25519 key; make one with `archiver keys new`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ArchiverError(f"{path}: not a readable PEM public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ArchiverError(f"{path}: not an Ed25519 public key")
    return key


def keys_new_command(out: Path, name: str = "archiver-signing") -> int:
    """``archiver keys new [--out DIR] [--name NAME]``: print where the pair went, and its id."""
    pair = new_key_pair(out, name)
    print(f"private key: {pair.private_path} (mode 0600; keep it offline, never put it in a bag)")
    print(f"public key:  {pair.public_path}")
    print(f"key id:      {pair.key_id} (publish it so others can check your signatures)")
    return EXIT_OK
