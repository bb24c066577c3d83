"""The loopback guard: load is generated against this machine only.

A load test pointed at someone else's server is an attack, so every entry
point (``perfcore serve``, ``perfcore loadtest`` and the locustfile itself)
accepts only loopback targets: ``localhost``, ``127.0.0.0/8`` and ``::1``.
Names are never resolved (a DNS answer can change between the check and the
connection); only the literal name ``localhost`` is trusted.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from perfcore.errors import BadInput


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, an IPv4 address in 127.0.0.0/8, or ``::1``."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def require_loopback_url(url: str, field: str = "host") -> str:
    """Return ``url`` if it is an http(s) URL of a loopback host, else raise :class:`BadInput`."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # an unclosed [ of an IPv6 host
        raise BadInput(f"{field}: malformed host in {url!r}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadInput(f"{field}: expected http://127.0.0.1:PORT, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise BadInput(f"{field}: invalid port in {url!r}") from None
    if not is_loopback_host(parts.hostname):
        raise BadInput(
            f"{field}: {parts.hostname} is not a loopback address; load tests target "
            "127.0.0.0/8, localhost or ::1 only"
        )
    return url.strip()
