"""Which network addresses a capture may connect to: private ones are refused by default.

A document cited by someone else must not make the crawler reach into the operator's own
network (``http://127.0.0.1/``, ``http://169.254.169.254/`` cloud metadata, a router on
``192.168.1.1``), and neither may a redirect, a link on the next hop, a robots.txt, or a name
whose DNS answer changes between two look-ups (rebinding). So the rule is enforced where the
socket connects (:mod:`archiver.net.recorder`): every address ``getaddrinfo`` returned is
checked before connecting to it, and the peer of the connected socket is checked again.

Behind a proxy that resolves names (HTTP proxies, ``socks5h``) this machine never learns the
target's address; then only what the client can see is checked: literal IP addresses in any
spelling the resolver accepts (``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``) and
names that always mean this machine (``localhost``). The proxy itself is the operator's choice.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field

# Carrier-grade NAT (RFC 6598): not "private" to Python's ipaddress, but not reachable either.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_IPV4_COMPAT = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible IPv6 (::a.b.c.d)
# What glibc's inet_aton accepts as a number: digits, hex, dots (127.1, 0x7f000001, 0177.0.0.1).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\.?$", re.I)
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class PrivateAddressError(OSError):
    """A connection was refused because its address is not public (see :func:`why_private`)."""


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells, as the system resolver would read it, or None for a name.

    ``[::1]``, ``::1%eth0``, ``127.0.0.1``, and the inet_aton forms ``127.1``, ``0x7f000001``,
    ``2130706433``, ``0177.0.0.1`` all count; ``example.org`` does not.
    """
    name = host.strip().strip("[]")
    name = name.split("%", 1)[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name.rstrip(".")))
        except OSError:  # e.g. 256.1.1.1: not an address, so a name the resolver will refuse
            return None
    return None


def why_private(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What ``address`` is when it is not a public internet address (``"a loopback address"``,
    ...), or None when it is public."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        literal = literal_address(str(address))
        if literal is None:
            return "not an IP address"
        ip = literal
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and ip in _IPV4_COMPAT and int(ip) > 1:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = why_private(embedded)
            return f"an IPv6 form of {embedded} ({inner})" if inner else None
        if ip.teredo is not None:
            return "a Teredo tunnel address"
    v4 = isinstance(ip, ipaddress.IPv4Address)
    checks = (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (v4 and ip in _CGNAT, "a carrier-grade NAT address (RFC 6598)"),
        (v4 and any(ip in n for n in _RFC1918), "a private address (RFC 1918)"),
        (not v4 and ip in _UNIQUE_LOCAL, "a unique-local address (fc00::/7)"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private or not ip.is_global, "not a public address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def is_local_name(host: str) -> bool:
    """Names that mean this machine whatever DNS says (RFC 6761: ``localhost`` and below)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    return name in LOCAL_NAMES or name.endswith(".localhost")


@dataclass(frozen=True)
class AddressPolicy:
    """May a capture connect to an address? ``allow_private`` lifts the rule entirely.

    ``exempt`` lists ``(ip, port)`` endpoints treated as public: a test hook, so that a test
    can play a public site on 127.0.0.1 and show that its redirects and links to *other*
    loopback endpoints are still refused. The run never sets it.
    """

    allow_private: bool = False
    exempt: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    def refusal(self, address: str, port: int | None = None) -> str | None:
        """None when connecting to ``address`` is fine, else why not (one line)."""
        if self.allow_private:
            return None
        ip = literal_address(address)
        if ip is not None and port is not None and (str(ip), port) in self.exempt:
            return None
        reason = why_private(ip if ip is not None else address)
        return None if reason is None else f"{address} is {reason}"

    def name_refusal(self, host: str, port: int | None = None) -> str | None:
        """What can be checked of a target a proxy will resolve: literal IPs and local names."""
        if self.allow_private:
            return None
        ip = literal_address(host)
        if ip is not None:
            reason = self.refusal(str(ip), port)
            spelled = host.strip().strip("[]")
            if reason is not None and isinstance(ip, ipaddress.IPv4Address) and str(ip) != spelled:
                reason = f"{host} means {ip}, which is {why_private(ip)}"
            return reason
        if is_local_name(host):
            return f"{host} names this machine (loopback)"
        return None


def refusal_message(target: str, reason: str) -> str:
    """The one-line message of a ``private-address`` refusal."""
    return (
        f"{target}: {reason}; private, loopback and link-local addresses are refused "
        "(the operator can allow them with --allow-private); no request was sent"
    )
