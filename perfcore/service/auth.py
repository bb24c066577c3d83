"""Who may call what: signed bearer tokens for attendees, organizers and operators.

A token names one subject -- ``attendee:<id>``, ``organizer:<event id>`` or
``operator`` -- and carries an HMAC-SHA256 of it under the deployment's
secret, so the service checks it without a database or session store::

    >>> secret = b"s3cret"
    >>> token = mint(secret, "attendee:7")
    >>> verify(secret, token)
    'attendee:7'
    >>> verify(secret, token[:-1] + "0") is None, verify(b"other", token) is None
    (True, True)

Stdlib ``hmac`` rather than a JWT library: the reference API needs one
claim, no expiry negotiation and no key rotation, and a JWT dependency would
add more surface than it removes. Which endpoint needs which role is a fact
of the platform description (``auth`` per request class); the secret comes
from configuration (``service.auth_secret`` or the file ``auth_secret_file``),
never from code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from perfcore.config import ServiceConfig

_SIGNATURE_CHARS = 32  # 128 bits of the SHA-256 HMAC


def _signature(secret: bytes, subject: str) -> str:
    return hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]


def mint(secret: bytes, subject: str) -> str:
    """A bearer token for ``subject``."""
    return f"{subject}.{_signature(secret, subject)}"


def verify(secret: bytes, token: str) -> str | None:
    """The token's subject when its signature is right, else None."""
    subject, sep, signature = token.rpartition(".")
    if not sep or not subject:
        return None
    return subject if hmac.compare_digest(signature, _signature(secret, subject)) else None


def subject_for(role: str, key: int | None) -> str:
    """The subject a role's token must name (``operator`` has no key)."""
    return role if key is None else f"{role}:{key}"


SECRET_ENV = "PERFCORE_AUTH_SECRET"  # how a load generator or a second process gets the key


def find_secret(config: ServiceConfig) -> bytes | None:
    """The secret, if one is configured, in ``$PERFCORE_AUTH_SECRET`` or in the secret file."""
    if config.auth_secret is not None:
        return config.auth_secret.get_secret_value().encode()
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = Path(config.auth_secret_file)
    return path.read_text(encoding="utf-8").strip().encode() or None if path.is_file() else None


def load_secret(config: ServiceConfig) -> bytes:
    """:func:`find_secret`, else a new random key in the secret file (created 0600)."""
    found = find_secret(config)
    if found is not None:
        return found
    path = Path(config.auth_secret_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two server processes starting at once agree on one secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"service.auth_secret_file: {path} is empty")
    return value.encode()
