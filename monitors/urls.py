"""URL canonicalisation: one spelling per article, so the same story is not stored twice.

Feeds decorate article links with tracking parameters (`?traffic_source=rss`, `?mod=hp_lead_pos7`,
`?at_medium=RSS&at_campaign=KARANGA`, `?ns_mchannel=rss&ns_campaign=1490&ito=1490`) and some
publish the same link with and without a trailing slash (the Washington Post). `canonical_url`
removes that noise and keeps what identifies content (ABC News' `?id=103143672` stays).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

#: Query parameters that only track where a click came from (compared lowercased).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "igshid",  # Instagram
        "mc_cid",  # Mailchimp
        "mc_eid",
        "traffic_source",  # Al Jazeera
        "mod",  # WSJ placement ("hp_lead_pos7")
        "cmpid",
        "cmp",  # FT, Guardian ("CMP")
        "ocid",  # MSN
        "smid",  # NYT share id
        "ref",
        "ref_src",
        "referrer",
        "itid",  # Washington Post
        "ito",  # Daily Mail
        "_ga",
        "_gl",
        "spm",
        "s_cid",
        "sr_share",
    }
)

#: Prefixes of tracking parameter families (compared lowercased).
TRACKING_PREFIXES: tuple[str, ...] = (
    "utm_",  # Google Analytics
    "at_",  # AT Internet / BBC
    "ns_",  # comScore / Daily Mail
    "pk_",  # Matomo
    "mtm_",  # Matomo
    "hsa_",  # HubSpot ads
    "__hs",  # HubSpot
    "oly_",  # Omeda
    "vero_",
)

#: Parameters that are tracking only on particular sites (host suffix -> names).
SITE_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "wsj.com": frozenset({"st", "reflink", "page"}),  # share token, share source, search page
    "nytimes.com": frozenset({"partner", "emc", "campaign_id", "instance_id", "segment_id"}),
}

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_ENCODED_QUERY = re.compile(r"%3d", re.IGNORECASE)


def _is_tracking(key: str, host: str) -> bool:
    k = key.lower()
    if k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES):
        return True
    for suffix, names in SITE_TRACKING_PARAMS.items():
        if (host == suffix or host.endswith("." + suffix)) and k in names:
            return True
    return False


def canonical_url(url: str) -> str:
    """Return the canonical spelling of an http(s) article URL.

    Lowercases scheme and host, drops a default port, the fragment and tracking parameters,
    sorts the remaining query parameters (their encoding is kept), turns an empty path into "/"
    and strips a trailing slash except from the root path. Anything that is not an absolute
    http(s) URL is returned stripped of surrounding whitespace and otherwise unchanged.
    """
    raw = url.strip()
    try:
        parts = urlsplit(raw)
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return raw
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:
        return raw
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"

    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"

    query = parts.query
    # The WSJ sometimes percent-encodes its whole query ("?st%3Dabc%26mod%3Dgooglenewsfeed").
    if query and "=" not in query and _ENCODED_QUERY.search(query):
        query = unquote_plus(query)
    kept = [
        pair
        for pair in query.split("&")
        if pair and not _is_tracking(unquote_plus(pair.partition("=")[0]), host)
    ]
    kept.sort(key=lambda pair: (unquote_plus(pair.partition("=")[0]), pair))
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))
