"""URL normalisation (WHATWG-style): one spelling per URL, so a page cited twice is kept once."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

_DEFAULT_PORTS = {"http": 80, "https": 443}


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


_SUB_DELIMS = "!$&'()*+,;="


_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))


_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))


_USERINFO_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":"))


_ESCAPE_OR_CHAR = re.compile(r"%([0-9A-Fa-f]{2})|.", re.DOTALL)


_ASCII_HOST = re.compile(r"[a-z0-9._-]+")


_TAB_NEWLINE = re.compile(r"[\t\n\r]")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _encode(component: str, safe: frozenset[str]) -> str:
    """Percent-encode what must be, without double-encoding existing escapes.

    Escapes of unreserved characters are decoded (``%7e`` -> ``~``), other escapes are kept
    with upper-case hex, a ``%`` that starts no escape becomes ``%25``.
    """
    if safe.issuperset(component):  # the usual case: nothing to encode (``%`` is never safe)
        return component

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            ch = chr(int(m.group(1), 16))
            return ch if ch in _UNRESERVED else "%" + m.group(1).upper()
        ch = m.group(0)
        if ch in safe:
            return ch
        return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))

    return _ESCAPE_OR_CHAR.sub(repl, component)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so ``/a/./b/../c`` and ``/a/c`` are one URL."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _normalize_host(host: str) -> str | None:
    host = host.rstrip(".")
    if not host:
        return None
    if ":" in host:  # IPv6 literal (urlsplit already removed the brackets)
        return f"[{host.lower()}]"
    if host.isascii():
        host = host.lower()
        labels_ok = ".." not in host and not host.startswith(".")
        return host if _ASCII_HOST.fullmatch(host) and labels_ok else None
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def normalize_url(url: str) -> str | None:
    """The form of ``url`` to fetch and to deduplicate by, or None if it cannot be fetched.

    Lower-cases scheme and host, IDNA-encodes the host, drops a trailing dot, the default port
    and the fragment, percent-encodes what must be encoded (never twice), removes dot segments
    and keeps the path's case and the query's order. Only ``http`` and ``https`` are accepted.
    """
    url = _TAB_NEWLINE.sub("", url.strip())  # as browsers do for hrefs broken over lines
    if not url or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        hostname = parts.hostname
        port = parts.port
    except ValueError:  # bad IPv6 literal or non-numeric / out-of-range port
        return None
    if not hostname:
        return None
    host = _normalize_host(hostname)
    if host is None:
        return None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{_encode(userinfo, _USERINFO_SAFE)}@{netloc}"
    path = _remove_dot_segments(_encode(parts.path, _PATH_SAFE)) or "/"
    query = _encode(parts.query, _QUERY_SAFE)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
