"""The load-test target allow-list: loopback always, other hosts only when listed.

A load test pointed at someone else's server is an attack, so a target is
accepted only when it is loopback (:func:`perfcore.service.loopback.is_loopback_host`)
or named in ``loadtest.allowed_hosts`` / ``--allow-host``. The check parses the
URL *the way the HTTP client will*: Locust's client is ``requests`` on
``urllib3``, whose parser ends the authority at a backslash, while
:func:`urllib.parse.urlsplit` does not -- so ``http://evil.com\\@127.0.0.1``
looks like loopback to one and connects to ``evil.com`` with the other. A URL
is accepted only when both parsers agree on scheme, host and port, and it
carries no credentials, backslashes or whitespace. Names are never resolved.

    >>> target_of("http://127.0.0.1:8000", []).host
    '127.0.0.1'
    >>> target_of("http://evil.com\\\\@127.0.0.1:8000", [])
    Traceback (most recent call last):
    ...
    perfcore.errors.BadInput: --host: 'http://evil.com\\\\@127.0.0.1:8000' has a backslash, whitespace or credentials; give scheme://host:port
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from perfcore.errors import BadInput
from perfcore.service.loopback import is_loopback_host

_UNSAFE = re.compile(r"[\\\s@\x00-\x1f\x7f]")


def normalize_host(host: str) -> str:
    """Lower case, no IPv6 brackets, no trailing dot: the form hosts are compared in."""
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Target:
    """An accepted target: its URL as given, and the scheme, host and port the client uses."""

    url: str
    scheme: str
    host: str
    port: int


def _client_view(url: str, field: str) -> tuple[str, str, int]:
    """(scheme, host, port) as urllib3 (the client) parses ``url``."""
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise BadInput(f"{field}: cannot parse {url!r}") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in {"http", "https"} or not parsed.host:
        raise BadInput(f"{field}: expected http(s)://HOST:PORT, got {url!r}")
    port = parsed.port or (443 if scheme == "https" else 80)
    return scheme, normalize_host(parsed.host), port


def _stdlib_view(url: str, field: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise BadInput(f"{field}: invalid port in {url!r}") from None
    scheme = parts.scheme.lower()
    return scheme, normalize_host(parts.hostname or ""), port or (443 if scheme == "https" else 80)


def is_allowed_host(host: str, allowed: Iterable[str]) -> bool:
    """Loopback, or exactly one of ``allowed`` (names compared case-insensitively)."""
    name = normalize_host(host)
    return is_loopback_host(name) or name in {normalize_host(a) for a in allowed}


def target_of(url: str, allowed: Iterable[str], field: str = "--host") -> Target:
    """The :class:`Target` of ``url`` if its host is allowed, else :class:`BadInput` naming it."""
    text = url.strip()
    if _UNSAFE.search(text):
        raise BadInput(
            f"{field}: {text!r} has a backslash, whitespace or credentials; give scheme://host:port"
        )
    client = _client_view(text, field)
    if _stdlib_view(text, field) != client:
        raise BadInput(f"{field}: {text!r} parses ambiguously; give scheme://host:port")
    scheme, host, port = client
    if not is_allowed_host(host, allowed):
        raise BadInput(
            f"{field}: {host} is not a loopback address and not in loadtest.allowed_hosts"
            " (add it there or pass --allow-host)"
        )
    return Target(text, scheme, host, port)


def redirect_allowed(base: str, location: str, allowed: Iterable[str]) -> bool:
    """Whether a redirect from ``base`` to ``location`` (maybe relative) stays on allowed hosts."""
    try:
        target_of(urljoin(base, location), allowed, "redirect")
    except BadInput:
        return False
    return True
