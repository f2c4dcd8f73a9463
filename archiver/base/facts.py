"""Facts about the software, machine and options that made a capture.

A capture is only as trustworthy as what is known about how it was made (who, which tool at
which version, on what system, with which options), so these facts go into every WARC's
warcinfo record and every per-URL provenance record. Secrets never do: proxy passwords are
masked before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import platform
import ssl
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archiver import __version__
from archiver.base.compactjson import compact
from archiver.base.distversions import versions
from archiver.base.settings import Settings

# Distributions whose versions decide how bytes were fetched, recorded or written.
_PACKAGES = {
    "requests": "requests",
    "urllib3": "urllib3",
    "warcio": "warcio",
    "cryptography": "cryptography",
    "pysocks": "PySocks",
    "protego": "protego",
}
# Environment variables that change the network path or the trusted roots.
_ENVIRONMENT = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
MASK = "***"


@lru_cache(maxsize=1)
def software() -> dict[str, str | None]:
    """Versions of archiver, Python, the HTTP/WARC libraries and the OpenSSL actually linked."""
    out: dict[str, str | None] = {
        "archiver": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    found = versions(tuple(_PACKAGES.values()))
    for key, dist in _PACKAGES.items():
        out[key] = found.get(dist)
    out["openssl"] = ssl.OPENSSL_VERSION
    return out


@lru_cache(maxsize=1)
def operating_system() -> dict[str, str | None]:
    """The operating system and machine, as ``platform`` reports them."""
    distribution = None
    with contextlib.suppress(OSError):  # not Linux, or no os-release file
        distribution = platform.freedesktop_os_release().get("PRETTY_NAME")
    return {
        "system": platform.system(),
        "release": platform.release(),
        "version": platform.version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "distribution": distribution,
    }


def mask_password(url: str | None) -> str | None:
    """``scheme://user:***@host:port``: the password of a URL replaced, everything else kept."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK  # unparseable: do not risk writing a secret
    if password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))


def settings_facts(settings: Settings) -> dict[str, Any]:
    """The settings in force, with the proxy password masked."""
    facts = settings.to_dict()
    facts["proxy"] = mask_password(settings.proxy)
    facts["effective_user_agent"] = settings.effective_user_agent()
    return facts


def environment_facts() -> dict[str, str]:
    """Proxy and CA-bundle variables that were set (requests reads them per URL)."""
    out: dict[str, str] = {}
    for name in _ENVIRONMENT:
        value = os.environ.get(name) or os.environ.get(name.lower())
        if value:
            out[name] = (
                value
                if name.endswith("CA_BUNDLE") or name == "NO_PROXY"
                else (mask_password(value) or "")
            )
    return out


def run_facts(settings: Settings) -> dict[str, Any]:
    """Everything run-wide: software, operating system, options, operator and organisation."""
    return {
        "software": software(),
        "os": operating_system(),
        "settings": settings_facts(settings),
        "environment": environment_facts(),
        "operator": settings.operator or None,
        "organisation": settings.organisation or None,
        "private_addresses": private_addresses(settings),
    }


def private_addresses(settings: Settings) -> str:
    """The address rule in force, in words (docs/capture.md, "Private addresses")."""
    if settings.allow_private:
        return "allowed: the operator allowed loopback, private and link-local addresses"
    return "refused: loopback, private, link-local and other non-public addresses"


def software_line() -> str:
    """``archiver/0.1.0 (CPython 3.11.7; requests 2.34.2; ...; OpenSSL 3.0.19 ...)``."""
    facts = software()
    parts = [facts["python"] or ""]
    skip = ("archiver", "python", "openssl")
    parts += [f"{k} {v}" for k, v in facts.items() if k not in skip and v]
    parts.append(facts["openssl"] or "")
    return f"archiver/{facts['archiver']} ({'; '.join(p for p in parts if p)})"


def warcinfo_facts(settings: Settings) -> dict[str, str]:
    """The run-wide facts as warcinfo fields (one line each; the JSON ones are compact)."""
    facts = run_facts(settings)
    return {
        "software": software_line(),
        "operating-system": facts["os"]["platform"] or "",
        "archiver-software": compact(facts["software"]),
        "archiver-os": compact(facts["os"]),
        "archiver-options": compact(facts["settings"]),
        "archiver-environment": compact(facts["environment"]),
        "private-addresses": facts["private_addresses"],
    }
