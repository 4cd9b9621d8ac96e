"""Refusing what another site's page makes a browser send: the console's CSRF rule.

A browser tells where a request comes from: `Sec-Fetch-Site` (`same-origin`, `same-site`,
`cross-site`, `none` for a typed URL) and, on every POST and cross-origin fetch, `Origin`.
The console only serves its own pages, so a request is refused when either says it comes
from elsewhere:

    Sec-Fetch-Site: cross-site or same-site     (same-site: another port or subdomain of
                                                 the same site, another app on localhost)
    Origin present, and not this console's own  (compared with the Host header, which the
                                                 allowed-hosts rule has already checked)

A request with neither header is not a browser's (an agent, curl): it carries no ambient
cookie, and the API wants its token. Together with `application/json` bodies (a browser
cannot send those cross-site without a CORS preflight, which the console never grants),
this keeps other sites from answering questions through a person's browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["from_elsewhere"]

_ELSEWHERE = frozenset({"cross-site", "same-site"})


def from_elsewhere(headers: Mapping[str, str]) -> bool:
    """Whether a browser sent this request for a page of another origin."""
    if headers.get("sec-fetch-site", "").lower() in _ELSEWHERE:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:  # not a URL at all (`http://[::1`, `null`): not ours
        return True
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return True
    return parts.netloc.lower() != headers.get("host", "").lower()
