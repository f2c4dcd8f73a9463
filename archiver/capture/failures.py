"""Fetch failures as data: FetchError, classifying an exception, errors that are ours (disk)."""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.exceptions

from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.timefmt import iso
from archiver.net.netpolicy import PrivateAddressError

_SPACE = re.compile(r"\s")


@dataclass
class FetchError:
    cls: str  # "dns", "connection-refused", "tls", "timeout", ... (see docs/capture.md)
    message: str
    at: datetime

    def to_dict(self) -> dict[str, str]:
        return {"class": self.cls, "message": self.message, "at": iso(self.at)}


def classify(exc: BaseException) -> str:
    """Map an exception from requests/urllib3/socket/ssl to a stable error class."""
    chain = list(_exception_chain(exc))
    if any(isinstance(e, PrivateAddressError) for e in chain):
        return "private-address"
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return "dns"
    if any(
        isinstance(e, requests.exceptions.ProxyError | urllib3.exceptions.ProxyError) for e in chain
    ) or any(type(e).__module__ == "socks" for e in chain):
        return "proxy"
    if any(
        isinstance(e, ssl.SSLError | ssl.CertificateError | requests.exceptions.SSLError)
        for e in chain
    ):
        return "tls"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection-refused"
    if any(isinstance(e, ConnectionResetError | BrokenPipeError) for e in chain):
        return "connection-reset"
    # urllib3's NewConnectionError subclasses its ConnectTimeoutError: only the cause counts.
    if any(
        isinstance(
            e,
            TimeoutError
            | socket.timeout
            | urllib3.exceptions.TimeoutError
            | requests.exceptions.Timeout,
        )
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return "timeout"
    if any(isinstance(e, ConnectionAbortedError) for e in chain):
        return "connection-aborted"
    if any(
        isinstance(e, urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError)
        for e in chain
    ):
        return "disconnect"
    return "network"


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])


_USERINFO = re.compile(r"(?<=//)[^/\s@'\"]+@")


def _message(exc: BaseException) -> str:
    """One line for the log; credentials in any URL it quotes (a proxy's) are dropped first."""
    text = _USERINFO.sub("", " ".join(str(exc).split()))
    return text[:500] or type(exc).__name__


_LOCAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def local_storage_error(exc: BaseException | None) -> OSError | None:
    """The disk-full (quota, read-only) error behind ``exc``, if any: urllib3 wraps it."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _LOCAL_ERRNOS:
            return e
        stack.extend([e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return None


def _raise_if_local(exc: BaseException, url: str) -> None:
    """Our disk failing is not the server failing: stop the run instead of recording it."""
    local = local_storage_error(exc)
    if local is not None:
        raise ArchiverError(
            f"{local.filename or 'the output disk'}: {local.strerror} while capturing {url}; "
            "that URL was not recorded. Free space and run the same command again to resume",
            EXIT_RUN_FAILED,
        ) from exc


def _check_url(url: str) -> tuple[str, str] | None:
    """Return (class, message) when ``url`` cannot be fetched at all."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        return "invalid-url", f"{url!r} is not a valid URL ({exc}); correct it in the source"
    del port
    if parts.scheme.lower() not in ("http", "https"):
        return (
            "unsupported-scheme",
            f"{url!r} uses scheme {parts.scheme or '(none)'!r}; only http and https are captured",
        )
    if not parts.hostname:
        return "invalid-url", f"{url!r} has no host name; correct it in the source"
    if _SPACE.search(url):
        return "invalid-url", f"{url!r} contains white space; correct it in the source"
    return None
