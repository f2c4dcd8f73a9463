"""Run settings: who is capturing, how politely, through which network path.

Settings come from (lowest to highest precedence) built-in defaults, the collection's
``[capture]`` table (only the keys a collection may set, see ``COLLECTION_TRUSTED_KEYS``), the
operator's own settings file (``archiver.run.usersettings``), the environment (``HTTP(S)_PROXY``,
``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ``ARCHIVER_OPERATOR``, ``ARCHIVER_ORGANISATION``,
``ARCHIVER_CONTACT``, ``ARCHIVER_ALLOW_PRIVATE``, ``ARCHIVER_WITNESSES``) and command-line
options. The settings in
force are written into every WARC's warcinfo record and the bag, so a reader knows how a
capture was made.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from archiver import __version__


@dataclass(frozen=True)
class Settings:
    operator: str = ""  # person or role running the capture (pseudonym is fine)
    organisation: str = ""  # Source-Organization in bag-info.txt
    contact_name: str = ""
    contact_email: str = ""  # goes into the User-Agent and the HTTP From header
    user_agent: str = ""  # full override; default names the tool and the contact
    proxy: str | None = None  # http://host:port, socks5h://host:port (Tor); overrides env
    ca_bundle: str | None = None  # PEM file of trusted roots; overrides REQUESTS_CA_BUNDLE
    verify_tls: bool = True  # False: capture anyway, but record that verification was off
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_time_per_url: float = 120.0  # whole fetch incl. redirects; then WARC-Truncated: time
    max_size: int = 500 * 1024 * 1024  # per response body; beyond it WARC-Truncated: length
    max_redirects: int = 10
    # 429/503 with Retry-After: wait up to this many seconds (longer: not waited for, recorded),
    # at most ``retry_attempts`` times per URL; the host is then slowed down too.
    retry_after_max: float = 120.0
    retry_attempts: int = 3
    per_host_delay: float = 1.0  # seconds between requests to one host
    concurrency: int = 8  # hosts fetched at once (one connection per host)
    respect_robots: bool = True
    robots_override_reason: str = ""  # required (and recorded) when respect_robots is False
    hops: int = 1  # for documents given by URL: also capture links in their main content
    clean: bool = True  # extract text from captured HTML and PDF
    warc_prefix: str = "ARCHIVER"
    max_warc_size: int = 1_000_000_000
    hostname: str = field(default_factory=socket.gethostname)
    # Loopback, private, link-local, ... addresses are refused unless the operator opts in
    # (--allow-private or ARCHIVER_ALLOW_PRIVATE=1); a collection file can never set this.
    allow_private: bool = False
    # Witnesses for dead links (docs/witnesses.md): when a URL is gone or unreachable, ask public
    # web archives whether they hold earlier copies. Endpoints are whitespace-separated URLs
    # ("{url}" is replaced by the URL, else it is appended); "" asks none of that kind.
    witnesses: bool = True
    witness_timemaps: str = "https://timetravel.mementoweb.org/timemap/link/"
    witness_availability: str = "https://archive.org/wayback/available"
    witness_max_size: int = 5_000_000  # per answer; a bigger one is a failed lookup
    witness_max_time: float = 30.0  # per answer, whole request
    # Dead URLs looked up per run: a site that went dark must not add hours of lookups to an
    # unattended run, nor send thousands of queries to one archive. The rest are recorded as
    # not asked (error class "lookup-limit"), never silently skipped.
    witness_limit: int = 500
    fetch_mementos: bool = False  # also capture the closest memento, as a labelled capture
    save_now: bool = False  # submit every captured URL to a save-now service (opt-in)
    save_now_endpoint: str = "https://web.archive.org/save/"

    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        contact = f"; +mailto:{self.contact_email}" if self.contact_email else ""
        return f"archiver/{__version__} (evidence preservation{contact})"

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_environment(base: Settings | None = None) -> Settings:
    """Apply ARCHIVER_* variables and REQUESTS_CA_BUNDLE on top of ``base``.

    The proxy variables are not copied: requests reads HTTP(S)_PROXY/NO_PROXY itself, so a
    ``--proxy`` option stays the only override.
    """
    s = base or Settings()
    env = os.environ
    return s.with_overrides(
        operator=env.get("ARCHIVER_OPERATOR") or None,
        organisation=env.get("ARCHIVER_ORGANISATION") or None,
        contact_email=env.get("ARCHIVER_CONTACT") or None,
        ca_bundle=s.ca_bundle or env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or None,
        allow_private=True if _env_flag(env.get("ARCHIVER_ALLOW_PRIVATE")) else None,
        # ARCHIVER_WITNESSES=0 (off, no, false): no third-party lookups from this environment.
        witnesses=False if _env_off(env.get("ARCHIVER_WITNESSES")) else None,
    )


def _env_off(value: str | None) -> bool:
    return (value or "").strip().lower() in ("0", "false", "no", "off")


def _env_flag(value: str | None) -> bool:
    """1/true/yes/on (any case) is set; anything else, or unset, is not."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


# -- what a collection file may set ----------------------------------------------------------
# A collection.toml is often written by someone else. It decides *what* is captured and may make
# a capture slower, smaller or more polite; it may not change what is trusted (network path,
# TLS, robots.txt) or who the capture says made it, unless the operator agrees
# (--trust-collection-settings or trust_collection_settings = true in the user settings file).

#: Change what is trusted or who the capture claims to be: taken only with the operator's consent.
COLLECTION_TRUSTED_KEYS = frozenset(
    {
        "proxy",  # all traffic through someone else's machine
        "ca_bundle",  # which certificate authorities are believed
        "verify_tls",  # capture from a server whose identity was not checked
        "respect_robots",  # fetch what the site asked robots not to
        "robots_override_reason",  # recorded as the operator's reason
        "operator",  # identity written into every WARC and the bag
        "organisation",
        "contact_name",
        "contact_email",  # sent to every server in User-Agent and From
        "user_agent",  # what servers are told we are
        "hostname",  # the machine recorded as having made the capture
        # Which third parties are told the collection's URLs, and fetched from as witnesses.
        "witness_timemaps",
        "witness_availability",
        "fetch_mementos",
        "save_now",
        "save_now_endpoint",
    }
)
#: Never from a collection, even with consent: the operator's own network is theirs to open.
OPERATOR_ONLY_KEYS = frozenset({"allow_private"})
#: Limits a collection may lower freely but raise above the default only with consent.
COLLECTION_CEILING_KEYS = frozenset(
    {
        "connect_timeout",
        "read_timeout",
        "max_time_per_url",
        "max_size",
        "max_redirects",
        "max_warc_size",
        "concurrency",
        "retry_after_max",  # a collection cannot make an unattended run wait for hours
        "retry_attempts",
        "witness_max_size",
        "witness_max_time",
        "witness_limit",
    }
)
#: Politeness a collection may increase freely but lower below the default only with consent.
COLLECTION_FLOOR_KEYS = frozenset({"per_host_delay"})
#: Sizes in bytes: TOML and options accept "10 MB", "500 MiB" as well as plain numbers.
SIZE_KEYS = frozenset({"max_size", "max_warc_size", "witness_max_size"})

_SIZE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str | int) -> int:
    """``"10MB"`` -> 10_000_000, ``"500 MiB"`` -> 524_288_000, ``"1234"`` -> 1234 bytes.

    KB/MB/GB are powers of 1000 and KiB/MiB/GiB powers of 1024, as the units say (IEC 80000-13);
    a plain number is bytes. Raises ``ValueError`` with what to write instead; the caller
    checks the range (a negative size is parsed so that it can be refused by name).
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    found = _SIZE.fullmatch(str(text))
    if not found:
        raise ValueError(
            f"{text!r} is not a size; give bytes (1000000) or a number with a unit: "
            "B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 500MiB"
        )
    number, unit = found.groups()
    value = float(number) * _UNITS[(unit or "b").lower()]
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)
