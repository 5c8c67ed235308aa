"""The network rule: which addresses a fetch may connect to. Pure; the Fetcher applies it.

A feed on the internet must not be able to send communique into the network it runs in (a
router's admin page, a cloud's metadata service at 169.254.169.254, a database's HTTP port on
localhost), because what communique fetches is stored, searched and published in a digest.
How a URL is *written* proves nothing: ``2130706433``, ``0x7f000001`` and ``127.1`` are all
127.0.0.1, a name can resolve to anything (and to something else a second later), and a
redirect moves the request elsewhere. So the rule is about *addresses*, and the Fetcher
applies it where every connection is made: the name is resolved once, every address it
resolves to is checked, and the connection goes to a checked address (:mod:`sources.fetch`).

Each address belongs to one network (:func:`network_of`): ``public`` (globally routable),
``loopback`` (this machine), ``link-local`` (the local link, where metadata services live)
or ``private`` (the rest: RFC 1918, unique-local IPv6, carrier-grade NAT, reserved ranges).
A request may reach the public internet and, besides it, the one network it was given
(:func:`allowed`): what the user typed may go anywhere; what a document links to (an
article page, an archive, a robots.txt, a feed found on a page) may reach only the network
of the document that linked it. So an intranet feed reads its intranet's pages, and a
public feed reads only public ones.
"""

from __future__ import annotations

import ipaddress

PUBLIC = "public"
LOOPBACK = "loopback"
LINK_LOCAL = "link-local"
PRIVATE = "private"
ANYWHERE = "anywhere"  # what the user typed: any network; later hops keep to its own

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # IPv4 addresses reached through NAT64


class RefusedAddress(Exception):
    """A connection the network rule does not allow; says which address and why."""


def network_of(address: str) -> str:
    """The network an IP address (as a resolver returns it) belongs to.

    IPv4 addresses written inside IPv6 (``::ffff:127.0.0.1``, NAT64's ``64:ff9b::/96``) are
    judged as the IPv4 address they reach; the unspecified address (``0.0.0.0``, ``::``),
    which Linux connects to this machine, is loopback."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) aside
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK
    if ip.is_link_local:
        return LINK_LOCAL
    if ip.is_global and not ip.is_multicast:
        return PUBLIC
    return PRIVATE


def allowed(network: str, reach: str) -> bool:
    """Whether a request given ``reach`` may connect to an address in ``network``."""
    return reach == ANYWHERE or network in (PUBLIC, reach)


def check(host: str, addresses: list[str], reach: str) -> None:
    """Raise :class:`RefusedAddress` unless *every* address ``host`` resolved to is allowed:
    one private answer among public ones is enough for a resolver to steer a connection."""
    for address in addresses:
        network = network_of(address)
        if not allowed(network, reach):
            shown = host if host == address else f"{host} ({address})"
            raise RefusedAddress(
                f"{shown} is a {network} address, and what linked to it is "
                + ("on the internet" if reach == PUBLIC else f"on a {reach} address")
                + ": not fetched (a feed may reach only the internet and its own network)"
            )
