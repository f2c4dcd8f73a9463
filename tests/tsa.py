"""Local RFC 3161 time-stamping authorities for the tests: real ``openssl ts`` over real HTTP.

Each ``LocalTsa`` has its own root CA (one RSA, one EC, so a token from one must never verify
against the other's root), a TSA certificate with a *critical* timeStamping EKU (rfc3161-client
rejects a non-critical one), and a threaded HTTP server on 127.0.0.1 that answers each POSTed
query with ``openssl ts -reply``. The TSA config deliberately has no ``certs =`` line: OpenSSL
writes extra certificates unsorted and rfc3161-client then refuses the SET (see
docs/provenance.md). Recipe: provenance-and-trust.md section 4 (project research note).
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from archiver.attest.tsa import TsaConfig

TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = {dir}/tsaserial
crypto_device = builtin
signer_cert = {dir}/tsa.crt
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
"""

TSA_EXT = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,nonRepudiation\n"
    "extendedKeyUsage=critical,timeStamping\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid,issuer\n"
)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


INT_EXT = (
    "basicConstraints=critical,CA:TRUE,pathlen:0\n"
    "keyUsage=critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid,issuer\n"
)


def make_tsa_pki(
    directory: Path, kind: str, name: str, *, intermediate: bool = False, tsa_days: int = 825
) -> None:
    """Root CA + TSA certificate (``kind`` "rsa" or "ec") in ``directory``.

    ``tsa_days``: how long the TSA's signing certificate is valid (a few days: one about to
    expire, for the renewal tests).

    With ``intermediate``, the TSA certificate is issued by an intermediate CA that the tokens do
    not embed (as with many real TSAs); ``roots.pem`` then bundles the intermediate and the root.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = (
        ["-newkey", "rsa:2048"]
        if kind == "rsa"
        else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    )
    _openssl(
        "req", "-x509", *key, "-sha256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "3650", "-subj", f"/CN={name} Test Root CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *key, "-sha256", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", f"/CN={name} Test TSA",
        cwd=directory,
    )  # fmt: skip
    (directory / "tsa.ext").write_text(TSA_EXT)
    issuer = "ca"
    if intermediate:
        (directory / "int.ext").write_text(INT_EXT)
        _openssl(
            "req", *key, "-sha256", "-nodes", "-keyout", "int.key", "-out", "int.csr",
            "-subj", f"/CN={name} Test Intermediate CA",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", "int.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-sha256", "-days", "3000", "-extfile", "int.ext",
            "-out", "int.crt",
            cwd=directory,
        )  # fmt: skip
        issuer = "int"
        bundle = (directory / "int.crt").read_bytes() + (directory / "ca.crt").read_bytes()
        (directory / "roots.pem").write_bytes(bundle)
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", f"{issuer}.crt", "-CAkey", f"{issuer}.key",
        "-CAcreateserial", "-sha256", "-days", str(tsa_days), "-extfile", "tsa.ext",
        "-out", "tsa.crt",
        cwd=directory,
    )  # fmt: skip
    (directory / "tsaserial").write_text("01\n")
    (directory / "tsa.cnf").write_text(TSA_CNF.format(dir=directory))


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _TsaServer

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests += 1
        data = b""
        with tempfile.TemporaryDirectory() as tmp:
            query, reply = Path(tmp, "q.tsq"), Path(tmp, "r.tsr")
            query.write_bytes(body)
            with self.server.serial_lock:  # openssl increments the serial file in place
                proc = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(self.server.cnf),
                     "-queryfile", str(query), "-out", str(reply)],
                    capture_output=True,
                    check=False,
                )  # fmt: skip
            if proc.returncode == 0 and reply.exists():
                data = reply.read_bytes()
        self.send_response(200 if data else 500)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


class _TsaServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cnf: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cnf = cnf
        self.serial_lock = threading.Lock()
        self.requests = 0


@dataclass
class LocalTsa:
    name: str
    directory: Path
    server: _TsaServer
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/tsr"

    @property
    def root(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def trust_file(self) -> Path:
        """What a user would configure: the root, or the intermediate + root bundle."""
        bundle = self.directory / "roots.pem"
        return bundle if bundle.exists() else self.root

    @property
    def config(self) -> TsaConfig:
        return TsaConfig(self.name, self.url, [self.trust_file])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_tsa(
    directory: Path, kind: str, name: str, *, intermediate: bool = False, tsa_days: int = 825
) -> LocalTsa:
    """Create the PKI in ``directory`` and serve it on an ephemeral 127.0.0.1 port."""
    make_tsa_pki(directory, kind, name, intermediate=intermediate, tsa_days=tsa_days)
    server = _TsaServer(directory / "tsa.cnf")
    thread = threading.Thread(target=server.serve_forever, name=f"tsa-{name}", daemon=True)
    thread.start()
    return LocalTsa(name, directory, server, thread)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a TSA that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"


def openssl_env() -> dict[str, str]:
    """Environment for subprocess runs of the by-hand commands (C locale, no proxies)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LC_ALL"] = "C"
    return env


def build_bag(
    out: Path,
    name: str = "test-bag",
    *,
    capture_start: str = "2026-01-01T00:00:00.000000Z",
    files: dict[str, bytes] | None = None,
) -> Path:
    """A small sealed bag made by the project's own BagBuilder, with archiver's bag-info fields."""
    from archiver.bag.writer import BagBuilder

    builder = BagBuilder(out / name)
    for rel, data in (files or {"capture-log.jsonl": b"{}\n", "warcs/a.txt": b"payload\n"}).items():
        with builder.open_payload(rel) as w:
            w.write(data)
    return builder.seal(
        [
            ("Source-Organization", "Test Org"),
            ("External-Identifier", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"),
            ("External-Description", "test capture"),
            ("Capture-Start", capture_start),
            ("Capture-End", capture_start),
        ]
    )
