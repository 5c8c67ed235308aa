"""Which stored item an entry is: link normalisation and identity keys. Pure.

Feeds change entry ids (a CMS migration, http -> https) and decorate links with tracking
parameters; an aggregator that trusts either blindly shows the same item twice (miniflux
#3120, reader #79). So an entry's key is its guid, else its normalised link, else a hash of
its title and date; and an entry whose guid changed but whose normalised link did not is
the same item.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "_hsenc",
        "_hsmi", "mkt_tok", "ref_src", "cmpid", "at_medium", "at_campaign", "xtor",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=65_536)  # pure, and asked again for every link a digest shows
def normalise_link(url: str) -> str:
    """A canonical form of a link for comparison (never for display).

    Lower-case scheme and host, no default port, no fragment, no tracking parameters
    (``utm_*`` and the common click ids), remaining query parameters sorted, ``http`` and
    ``https`` treated alike (sites move between them without changing their items).
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    )
    path = parts.path or "/"
    return urlunsplit(("https", host, path, urlencode(query), ""))


def entry_key(guid: str | None, link: str | None, title: str, date: str | None) -> str:
    """The identity of an entry within its source."""
    if guid and guid.strip():
        return "guid:" + guid.strip()
    if link:
        return "link:" + normalise_link(link)
    digest = hashlib.sha256(f"{title}\x1f{date or ''}".encode()).hexdigest()[:32]
    return "hash:" + digest
