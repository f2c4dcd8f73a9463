"""robots.txt policy per origin, with every decision written down.

The robots.txt response is itself evidence of the site's policy at capture time, so it is
fetched through the same recording path and written to the WARC as its own exchange (the
crawler passes a ``fetch_robots`` callable that does that). Parsing is protego's; this module
only adds caching per origin, the RFC 9309 status rules, and a record of *why*.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from protego import Protego

from archiver.base.settings import Settings
from archiver.capture.logparts import RobotsDecision as LoggedDecision

MAX_ROBOTS_SIZE = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB


@dataclass
class RobotsFile:
    """What fetching one origin's robots.txt produced."""

    url: str
    status: int | None  # final HTTP status, None when the fetch failed
    body: bytes | None
    error_class: str | None = None
    error_message: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)  # refs of its WARC records
    response_record_id: str | None = None
    # How it was fetched: {"resolved_by": ..., "proxy": {"url", "ip"} | None}, so that a URL
    # it blocks is logged with the same network path (archiver.capture.records.network_facts).
    network: dict[str, Any] | None = None


@dataclass
class RobotsDecision:
    url: str  # the robots.txt URL consulted
    allowed: bool  # what robots.txt says for this URL and our user agent
    rule: str  # which rule or status decided it
    override: bool  # respect_robots was off
    reason: str | None  # the operator's reason for overriding
    records: list[dict[str, Any]] = field(default_factory=list)  # only on the first decision
    response_record_id: str | None = None
    failure: tuple[str, str] | None = None  # (class, message) when robots.txt was unreachable
    network: dict[str, Any] | None = None  # how robots.txt was fetched (RobotsFile.network)

    @property
    def permits(self) -> bool:
        """May the URL be fetched (robots allows it, or the operator overrode robots)?"""
        return self.allowed or self.override

    def to_dict(self) -> dict[str, Any]:
        """The decision as the capture log and the provenance record state it."""
        logged = LoggedDecision(
            self.url, self.allowed, self.rule, self.override, self.reason, self.response_record_id
        )
        return logged.to_json()


@dataclass
class _Origin:
    lock: threading.Lock = field(default_factory=threading.Lock)
    file: RobotsFile | None = None
    parser: Protego | None = None
    records_given: bool = False


def robots_url_for(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}/robots.txt"


class RobotsPolicy:
    """Answers "may we fetch this URL?" once robots.txt of its origin has been fetched."""

    def __init__(self, settings: Settings, fetch_robots: Callable[[str], RobotsFile]) -> None:
        self.settings = settings
        self.user_agent = settings.effective_user_agent()
        self._fetch = fetch_robots
        self._origins: dict[str, _Origin] = {}
        self._lock = threading.Lock()
        self.on_crawl_delay: Callable[[str, float], None] | None = None

    def check(self, url: str) -> RobotsDecision:
        robots_url = robots_url_for(url)
        with self._lock:
            origin = self._origins.setdefault(robots_url, _Origin())
        with origin.lock:  # one fetch per origin; others wait for its answer
            if origin.file is None:
                origin.file = self._fetch(robots_url)
                if origin.file.status is not None and 200 <= origin.file.status < 300:
                    text = (origin.file.body or b"")[:MAX_ROBOTS_SIZE].decode("utf-8", "replace")
                    origin.parser = Protego.parse(text)
                    delay = origin.parser.crawl_delay(self.user_agent)
                    if delay and self.on_crawl_delay is not None:
                        self.on_crawl_delay(urlsplit(url).hostname or "", float(delay))
            records: list[dict[str, Any]] = []
            if not origin.records_given:
                records = origin.file.records
                origin.records_given = True
        allowed, rule, failure = self._decide(url, origin)
        override = not self.settings.respect_robots
        return RobotsDecision(
            url=robots_url,
            allowed=allowed,
            rule=rule,
            override=override,
            reason=(self.settings.robots_override_reason or None) if override else None,
            records=records,
            response_record_id=origin.file.response_record_id,
            failure=failure,
            network=origin.file.network,
        )

    def _decide(self, url: str, origin: _Origin) -> tuple[bool, str, tuple[str, str] | None]:
        f = origin.file
        assert f is not None
        if f.status is None and f.error_class == "private-address":
            msg = f"{url}: not requested; its robots.txt was refused first: {f.error_message}"
            return False, msg, (f.error_class, msg)
        if f.status is None:
            msg = (
                f"robots.txt could not be fetched ({f.error_class}: {f.error_message}); "
                "RFC 9309 treats an unreachable robots.txt as complete disallow"
            )
            return False, msg, (f.error_class or "network", msg)
        if 200 <= f.status < 300:
            assert origin.parser is not None
            allowed = origin.parser.can_fetch(url, self.user_agent)
            return allowed, _matching_rule(origin.parser, url, self.user_agent, allowed), None
        if 400 <= f.status < 500:
            return True, f"robots.txt answered HTTP {f.status}: no restrictions (RFC 9309)", None
        if f.status >= 500:
            return False, f"robots.txt answered HTTP {f.status}: complete disallow (RFC 9309)", None
        return True, f"robots.txt answered HTTP {f.status}: treated as unavailable", None


def _matching_rule(parser: Protego, url: str, user_agent: str, allowed: bool) -> str:
    """Name the rule that decided, for the log. protego does not expose it, so this peeks at
    its rule set and falls back to a plain statement if protego's internals change."""
    try:
        rule_set = parser._get_matching_rule_set(user_agent)
        if rule_set is None:
            return "no group for our user agent: allowed"
        group = rule_set.user_agent
        from protego._utils import _quote_path

        quoted = _quote_path(url)
        for rule in rule_set._rules:
            if rule.value.match(quoted):
                return f"{rule.field}: {rule.value._pattern} (user-agent: {group})"
        return f"no rule matched (user-agent: {group}): allowed"
    except Exception:  # noqa: BLE001 - a description must never break a capture
        return "allowed by robots.txt" if allowed else "disallowed by robots.txt"
