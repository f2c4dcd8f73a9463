"""Record the exact bytes of each HTTP exchange at the connection, with the peer and TLS facts.

Why hand-written: warcio's ``capture_http`` monkey-patches ``http.client`` for the whole process,
hashes with SHA-1 and digests chunked payloads with the framing left in. No library gives us, per
exchange and per thread, the raw request bytes as sent, the raw response bytes as received
(chunked framing and gzip kept) *and* the socket they travelled on. So we subclass urllib3's
connection classes (plain, TLS, and SOCKS) and install them in a requests ``HTTPAdapter``:

* ``send`` tees every request byte into the exchange's request spool after it was sent;
* the ``http.client`` response object reads through a tee, so every byte consumed from the
  socket (status line, headers, body with chunk framing) lands in the response spool;
* ``_new_conn`` resolves the host name itself (``socket.getaddrinfo``, the system resolver),
  notes every address returned and the one connected to, then notes the peer address of the
  TCP connection (the proxy's when there is one). When a proxy resolves names (HTTP proxies,
  ``socks5h``) nothing is resolved here, so no DNS query ever leaks around Tor;
* the ``SSLSocket`` of that same connection gives the TLS version, cipher and the certificate
  chain the server presented in *this* handshake (no second connection is ever made).

Recording is scoped with :func:`recording`: exchanges started in this thread while the context
is open are appended to its :class:`Recording`. urllib3 is synchronous, so a request always runs
in the thread that asked for it.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import urllib3.connection
import urllib3.connectionpool
from urllib3.contrib import socks as urllib3_socks
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from archiver.net.certs import certificate_chain
from archiver.net.exchange import DNSInfo, Exchange, Peer, TLSInfo, redact_proxy
from archiver.net.netpolicy import AddressPolicy, PrivateAddressError
from archiver.warc.writer import new_record_id

SPOOL_IN_MEMORY = 1024 * 1024  # exchanges up to this size never touch the disk

_local = threading.local()


@dataclass
class Recording:
    """What happened on the wire in this thread while the recording was open."""

    spool_dir: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    last_peer: Peer | None = None  # most recent TCP connection opened, even if TLS then failed
    last_dns: DNSInfo | None = None  # most recent name resolution, even if connecting failed
    policy: AddressPolicy | None = None  # which addresses may be connected to (None: any)

    def new_exchange(self) -> Exchange:
        def spool() -> IO[bytes]:
            return tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by Exchange.close
                max_size=SPOOL_IN_MEMORY, dir=self.spool_dir
            )

        ex = Exchange(started=datetime.now(UTC), request=spool(), response=spool())
        self.exchanges.append(ex)
        return ex


@contextmanager
def recording(
    spool_dir: str | Path | None = None, policy: AddressPolicy | None = None
) -> Iterator[Recording]:
    """Record every exchange this thread makes through a :class:`RecordingAdapter`, and refuse
    connections to addresses ``policy`` does not allow."""
    rec = Recording(str(spool_dir) if spool_dir else None, policy=policy)
    previous = getattr(_local, "recording", None)
    _local.recording = rec
    try:
        yield rec
    finally:
        _local.recording = previous


def _current() -> Recording | None:
    return getattr(_local, "recording", None)


class _TeeReader:
    """Wrap the buffered socket file of an ``http.client`` response; copy what is consumed."""

    def __init__(self, fp: io.BufferedReader, exchange: Exchange) -> None:
        self._fp = fp
        self._ex = exchange

    def read(self, n: int | None = -1) -> bytes:
        data = self._fp.read(n)
        self._ex.add_response(data)
        return data

    def read1(self, n: int = -1) -> bytes:
        data = self._fp.read1(n)
        self._ex.add_response(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self._fp.readline(limit)
        self._ex.add_response(data)
        return data

    def readinto(self, b: Any) -> int:
        n = self._fp.readinto(b)
        if n:
            self._ex.add_response(memoryview(b)[:n])
        return n

    def peek(self, n: int = 0) -> bytes:  # not consumed, so not recorded
        return self._fp.peek(n)

    def close(self) -> None:
        self._fp.close()

    @property
    def closed(self) -> bool:
        return self._fp.closed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class _TeeHTTPResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, exchange: Exchange, **kw: Any) -> None:
        super().__init__(sock, *args, **kw)
        # http.client only calls read/readline/readinto/peek/close on fp: the tee has them all
        self.fp = cast(io.BufferedReader, _TeeReader(self.fp, exchange))


if TYPE_CHECKING:  # the mixin always sits on a urllib3 HTTPConnection; tell the type checker
    _ConnectionBase = urllib3.connection.HTTPConnection
else:
    _ConnectionBase = object


class RecordingMixin(_ConnectionBase):
    """Adds byte recording to a urllib3 connection class (see the module docstring)."""

    _archiver_exchange: Exchange | None = None
    _archiver_in_tunnel: bool = False
    _archiver_peer: Peer | None = None
    _archiver_proxy_url: str | None = None  # set by the pool for SOCKS connections
    _archiver_dns: DNSInfo | None = None
    _archiver_tls: TLSInfo | None = None
    _archiver_tls_of: Any = None  # the SSLSocket _archiver_tls came from

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # http.client only calls response_class(sock, ...): a factory bound to this connection
        self.response_class = self._archiver_response  # type: ignore[assignment]

    # -- connecting -------------------------------------------------------------------------
    def _new_conn(self) -> socket.socket:
        self._archiver_dns = None
        if self._archiver_resolves_here():
            sock = self._archiver_connect_resolved()
        else:
            sock = super()._new_conn()
        proxy_url = self._archiver_proxy_url
        if proxy_url is None and getattr(self, "proxy", None) is not None:
            proxy_url = redact_proxy(str(self.proxy))
        try:
            # The socket's own peer. PySocks overrides getpeername() (and, by calling it,
            # get_proxy_peername()) to return the *target*, so ask the base class.
            addr = socket.socket.getpeername(sock)
            peer = Peer(str(addr[0]), int(addr[1]), proxy_url is not None, proxy_url)
        except (OSError, IndexError, TypeError):
            peer = None
        self._archiver_peer = peer
        rec = _current()
        policy = rec.policy if rec is not None else None
        if policy is not None and peer is not None and not peer.via_proxy:
            # Checked again on the socket itself: whatever resolved the name, this is where
            # the bytes would go.
            reason = policy.refusal(peer.ip, peer.port)
            if reason is not None:
                sock.close()
                raise NewConnectionError(self, reason) from PrivateAddressError(reason)
        if rec is not None and peer is not None:
            rec.last_peer = peer
        return sock

    def _archiver_resolves_here(self) -> bool:
        """Does this machine resolve the name? Not when an HTTP proxy or socks5h/socks4a does."""
        socks_options = getattr(self, "_socks_options", None)
        if socks_options is not None:
            return not socks_options.get("rdns", True)
        return getattr(self, "proxy", None) is None

    def _archiver_connect_resolved(self) -> socket.socket:
        """Resolve with getaddrinfo ourselves, note every answer, then connect to each address
        in turn (as urllib3 would) through urllib3's own connect, so its errors stay the same."""
        host: str = self._dns_host
        name = host.strip("[]").rstrip(".") or host
        at = datetime.now(UTC)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
            resolver = "literal"
        except ValueError:
            resolver = "system"
        rec = _current()
        try:
            infos = socket.getaddrinfo(name, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except UnicodeError:
            return super()._new_conn()  # urllib3 reports the bad name
        except socket.gaierror as e:
            self._archiver_dns = DNSInfo(name, [], None, at, resolver, _one_line(e))
            if rec is not None:
                rec.last_dns = self._archiver_dns
            raise NameResolutionError(self.host, self, e) from e
        answers = list(dict.fromkeys(str(info[4][0]) for info in infos))
        dns = self._archiver_dns = DNSInfo(name, answers, None, at, resolver)
        if rec is not None:
            rec.last_dns = dns
        failure: Exception | None = None
        policy = rec.policy if rec is not None else None
        refused: list[str] = []
        for address in answers:
            reason = policy.refusal(address, self.port) if policy is not None else None
            if reason is not None:  # never connected to, not even to see whether it answers
                refused.append(reason)
                continue
            self._dns_host = address
            try:
                sock = super()._new_conn()
            except ConnectTimeoutError as e:  # includes NewConnectionError (refused, ...)
                failure = e
                continue
            finally:
                self._dns_host = host
            dns.connected = address
            return sock
        if failure is None and refused:
            said = "; ".join(refused)
            reason = (
                said
                if resolver == "literal"
                else f"{name} resolved only to refused addresses ({said})"
            )
            raise NewConnectionError(self, reason) from PrivateAddressError(reason)
        raise failure or NewConnectionError(self, f"{name} resolved to no address")

    def _tunnel(self) -> None:
        # The CONNECT request/response to a proxy is not part of the origin exchange.
        self._archiver_in_tunnel = True
        try:
            super()._tunnel()
        finally:
            self._archiver_in_tunnel = False

    # -- exchanging -------------------------------------------------------------------------
    def putrequest(self, *args: Any, **kw: Any) -> None:
        rec = _current()
        self._archiver_exchange = rec.new_exchange() if rec is not None else None
        if self._archiver_exchange is not None:
            self._archiver_exchange.connection = self
        super().putrequest(*args, **kw)

    def send(self, data: Any) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            # http.client would stream a file-like body without us seeing the bytes.
            raise TypeError("a recording connection sends byte strings only")
        super().send(data)
        ex = self._archiver_exchange
        if ex is not None and not self._archiver_in_tunnel:
            ex.add_request(data)
            self._archiver_note_socket(ex)

    def _archiver_response(self, sock: socket.socket, *args: Any, **kw: Any) -> Any:
        ex = self._archiver_exchange
        if ex is None or self._archiver_in_tunnel:
            return http.client.HTTPResponse(sock, *args, **kw)
        ex.flush_request()
        self._archiver_note_socket(ex)
        return _TeeHTTPResponse(sock, *args, exchange=ex, **kw)

    def _archiver_note_socket(self, ex: Exchange) -> None:
        """Tie the exchange to its connection's facts; called once bytes were sent on it."""
        if ex.peer is None:
            ex.peer = self._archiver_peer
        if ex.dns is None:
            ex.dns = self._archiver_dns
        sock = getattr(self, "sock", None)
        if ex.tls is None and isinstance(sock, ssl.SSLSocket):
            if self._archiver_tls_of is not sock:  # a new TLS connection: read its handshake
                self._archiver_tls = _tls_info(sock)
                self._archiver_tls_of = sock
                ex.opened_tls = True  # the first exchange on it carries the chain record
            ex.tls = self._archiver_tls
            ex.ssl_socket = sock


def _tls_info(sock: ssl.SSLSocket) -> TLSInfo:
    cipher = sock.cipher()
    verified = sock.context.verify_mode != ssl.CERT_NONE
    return TLSInfo(
        version=sock.version(),
        cipher=cipher[0] if cipher else None,
        chain=certificate_chain(sock),
        verified_chain=certificate_chain(sock, verified=True) if verified else None,
        resumed=bool(sock.session_reused),
        record_id=new_record_id(),
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500] or type(exc).__name__


class RecordingHTTPConnection(RecordingMixin, urllib3.connection.HTTPConnection):
    pass


class RecordingHTTPSConnection(RecordingMixin, urllib3.connection.HTTPSConnection):
    pass


class RecordingSOCKSConnection(RecordingMixin, urllib3_socks.SOCKSConnection):
    pass


class RecordingSOCKSHTTPSConnection(RecordingMixin, urllib3_socks.SOCKSHTTPSConnection):
    pass
