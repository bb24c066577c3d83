"""The shape of a service URL, checked before connecting: a malformed URL is bad input.

A DSN or Redis URL whose port is not a number, whose host is not a host name
or whose brackets do not close would otherwise surface as "cannot reach the
server" (exit 1) or a library's ValueError.  :func:`check_service_url`
rejects it as :class:`~perfcore.config.ConfigError` (exit 2), with a message
that names the option and the part, never the URL (it may hold a password).

>>> check_service_url("mysql+pymysql://root:secret@127.0.0.1:3306/platform", "--dsn")
>>> check_service_url("mysql+pymysql://root:secret@127.0.0.1:notaport/x", "--dsn")
Traceback (most recent call last):
...
perfcore.config.ConfigError: --dsn: the port is not a number from 1 to 65535
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from perfcore.config import ConfigError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$"
)
# Schemes whose "host" part is a path or absent: nothing to check beyond the scheme.
_LOCAL_SCHEMES = ("sqlite", "unix")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_NAME.match(host) is not None
    return True


def check_service_url(url: str, field: str) -> None:
    """Raise :class:`ConfigError` naming ``field`` when ``url`` is not ``scheme://[user@]host[:port]/...``."""
    if not _SCHEME.match(url):
        raise ConfigError(f"{field}: expected scheme://host:port/..., the scheme is missing")
    scheme = url.split("://", 1)[0].lower()
    if scheme.split("+", 1)[0] in _LOCAL_SCHEMES:
        return
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # unbalanced [ ], a port that is not a number or out of range
        if "port" in str(exc).lower():
            raise ConfigError(f"{field}: the port is not a number from 1 to 65535") from None
        raise ConfigError(f"{field}: malformed host part ({exc})") from None
    if port == 0:
        raise ConfigError(f"{field}: the port is not a number from 1 to 65535")
    if host is not None and not _valid_host(host):
        raise ConfigError(f"{field}: {host!r} is not a host name or an IP address")
