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

from perfcore.config import ConfigError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# As SQLAlchemy reads a URL: a user name without ':' '/' '@', then a password
# that may hold anything but '@' (so 'p/ss' and 'p#ss' are passwords, not paths),
# then the host (a name, an address or a bracketed IPv6 address) and the port.
_AUTHORITY = re.compile(
    r"^(?:[^:/@]*(?::[^@]*)?@)?"
    r"(?:\[(?P<ipv6>[^\]/?#]*)\]|(?P<host>[^/:?#\[\]@]*))"
    r"(?::(?P<port>[^/?#]*))?"
    r"(?:[/?#]|$)"
)
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63})*\.?$"
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
    scheme, rest = url.split("://", 1)
    if scheme.lower().split("+", 1)[0] in _LOCAL_SCHEMES:
        return
    match = _AUTHORITY.match(rest)
    if match is None:
        raise ConfigError(f"{field}: malformed host part (an unclosed '[' or a stray character)")
    port = match.group("port")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"{field}: the port is not a number from 1 to 65535")
    if match.group("ipv6") is not None:
        try:
            ipaddress.IPv6Address(match.group("ipv6"))
        except ValueError:
            raise ConfigError(f"{field}: [{match.group('ipv6')}] is not an IPv6 address") from None
    elif match.group("host") and not _valid_host(match.group("host")):
        raise ConfigError(f"{field}: {match.group('host')!r} is not a host name or an IP address")
