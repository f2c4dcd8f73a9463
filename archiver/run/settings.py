"""The run's Settings, layered: defaults, operator's file, collection (as trusted), options."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from archiver.base.errors import (
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.facts import mask_password
from archiver.base.settings import Settings, from_environment
from archiver.collect.trust import decide_capture
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan
from archiver.run.usersettings import load_user_settings

PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def _check_ranges(s: Settings) -> None:
    """Refuse settings that would silently capture nothing or wrong (e.g. --max-size -1)."""
    checks = [
        ("--hops", s.hops, s.hops >= 0),
        ("--delay", s.per_host_delay, s.per_host_delay >= 0),
        ("--concurrency", s.concurrency, s.concurrency >= 1),
        ("--connect-timeout", s.connect_timeout, s.connect_timeout > 0),
        ("--read-timeout", s.read_timeout, s.read_timeout > 0),
        ("--max-time", s.max_time_per_url, s.max_time_per_url > 0),
        ("--max-size", s.max_size, s.max_size > 0),
    ]
    for option, value, ok in checks:
        if not ok:
            raise ArchiverError(f"{option} {value}: out of range", EXIT_USAGE)
    if s.proxy:
        parts = urlsplit(s.proxy)
        if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
            raise ArchiverError(
                f"--proxy {_masked(s.proxy)}: give scheme://host:port with scheme "
                f"{', '.join(PROXY_SCHEMES)} (e.g. socks5h://127.0.0.1:9050 for Tor)",
                EXIT_USAGE,
            )


def _witness_options(s: Settings, options: RunOptions) -> Settings:
    """--no-witnesses, endpoints, --fetch-mementos, --save-now (docs/witnesses.md)."""
    joined = {
        "witness_timemaps": options.witness_timemaps,
        "witness_availability": options.witness_availability,
    }
    for key, given in joined.items():
        if given is not None:
            for url in " ".join(given).split():
                if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                    option = "--" + key.replace("_", "-").rstrip("s")
                    raise ArchiverError(f"{option} {url}: give an http(s) URL", EXIT_USAGE)
            s = s.with_overrides(**{key: " ".join(" ".join(given).split())})
    return s.with_overrides(
        witnesses=False if options.no_witnesses else None,
        fetch_mementos=True if options.fetch_mementos else None,
        save_now=True if options.save_now else None,
        save_now_endpoint=options.save_now_endpoint,
    )


def _masked(proxy: str) -> str:
    """The proxy URL with its password masked: error messages end up in logs."""
    return mask_password(proxy) or ""


def build_settings(plan: RunPlan, options: RunOptions) -> Settings:
    """defaults < collection [capture] (what it may set) < user settings < environment < options.

    Collection settings that change what is trusted apply only with the operator's consent;
    each one ignored is named on stderr, and the collection's [[tsa]] tables are dropped too.
    """
    user = load_user_settings()
    trusted = options.trust_collection_settings or user.trust_collection_settings
    decision = decide_capture(plan.overrides, trusted=trusted, has_tsa=bool(plan.tsas))
    for line in decision.warnings(plan.collection_toml or "collection"):
        print(f"archiver: {line}", file=sys.stderr)
    if decision.tsa_ignored:
        plan.tsas = []
    if plan.collection_toml is not None:
        consent = "operator consented" if trusted else "no operator consent"
        plan.collection_record = f"{consent}; {decision.record()}"
    base = Settings()
    try:
        base = base.with_overrides(**decision.applied)
    except TypeError as err:  # collection.py validates keys; this is a second line of defence
        raise ArchiverError(f"collection [capture]: {err}", EXIT_USAGE) from err
    base = base.with_overrides(
        contact_name=plan.curator_name or None,
        contact_email=plan.curator_email or None,
        organisation=plan.organisation or None,
    )
    base = base.with_overrides(**user.settings)
    return _with_options(from_environment(base), options)


def _with_options(s: Settings, options: RunOptions) -> Settings:
    """The command line beats everything else; the result is checked as a whole."""
    s = s.with_overrides(
        hops=options.hops,
        proxy=options.proxy,
        ca_bundle=options.ca_bundle,
        operator=options.operator,
        organisation=options.organisation,
        contact_name=options.contact_name,
        contact_email=options.contact_email,
        user_agent=options.user_agent,
        per_host_delay=options.per_host_delay,
        concurrency=options.concurrency,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_time_per_url=options.max_time_per_url,
        max_size=options.max_size,
    )
    if options.insecure:
        s = s.with_overrides(verify_tls=False)
    if options.ignore_robots is not None:
        if not options.ignore_robots.strip():
            raise ArchiverError("--ignore-robots needs a reason; it is recorded", EXIT_USAGE)
        s = s.with_overrides(respect_robots=False, robots_override_reason=options.ignore_robots)
    if not s.respect_robots and not s.robots_override_reason:
        raise ArchiverError(
            "respect_robots = false needs robots_override_reason (it is recorded with the capture)",
            EXIT_USAGE,
        )
    if options.allow_private:
        s = s.with_overrides(allow_private=True)
    if not options.clean:
        s = s.with_overrides(clean=False)
    s = _witness_options(s, options)
    _check_ranges(s)
    if options.processes is not None and options.processes < 1:
        raise ArchiverError(f"--processes {options.processes}: out of range", EXIT_USAGE)
    if s.ca_bundle and not Path(s.ca_bundle).is_file():
        raise ArchiverError(f"{s.ca_bundle}: CA bundle not found (--ca-bundle)", EXIT_USAGE)
    return s


def require_identity(s: Settings) -> None:
    """Who captured is part of the evidence: refuse to start a run that could not say it.

    Our profile requires Source-Organization, Contact-Name and Contact-Email; a bag never
    carries a placeholder for them, so a run without them stops here, before any request.
    """
    missing = []
    if not s.organisation.strip():
        missing.append("organisation (--organisation)")
    if not (s.contact_name.strip() or s.operator.strip()):
        missing.append("contact name or operator (--contact-name / --operator)")
    if not s.contact_email.strip():
        missing.append("contact email (--contact-email)")
    if missing:
        raise ArchiverError(
            f"who is capturing is not set: {', '.join(missing)}; set it once with `archiver init "
            '--organisation ORG --operator NAME --contact-email ADDRESS` (docs/cli.md, "init")',
            EXIT_USAGE,
        )
