"""Schemathesis over the reference API's OpenAPI document: no input makes it answer 5xx.

Every operation gets generated path parameters, bodies and queries (valid and
not). Requests carry the token their request class needs for the ids they
name, so the fuzzing gets past access control into the handlers, on real
MariaDB and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from perfcore.config import PerfcoreConfig
from perfcore.platform import PLATFORM
from perfcore.platform.model import ROLE_KEY
from perfcore.service import create_app
from perfcore.service.auth import mint

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

SECRET = b"fuzz-secret"
# The document does not depend on the database or the cache: build it once, here.
schema = schemathesis.openapi.from_dict(create_app(PerfcoreConfig(), "sqlite://").openapi())
ROUTES = {(rc.endpoint.method, rc.endpoint.path): rc for rc in PLATFORM.request_classes.values()}


@pytest.fixture(scope="module")
def client(
    service_db: str, redis_cache_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    config = PerfcoreConfig.model_validate(
        {
            "cache": {"redis_url": redis_cache_url, "key_prefix": "fuzz"},
            "queues": {"export_dir": str(tmp_path_factory.mktemp("exports"))},
            "service": {"auth_secret": SECRET.decode(), "exports_per_minute": 10_000},
        }
    )
    with TestClient(create_app(config, service_db), raise_server_exceptions=False) as test_client:
        yield test_client


def _credentials(case: Any) -> dict[str, str]:
    """The token for the ids this case names, when its class needs one."""
    rc = ROUTES.get((case.method.upper(), case.path))
    space = ROLE_KEY[rc.auth] if rc is not None else None
    if rc is None or space is None:
        return {}
    param = str(PLATFORM.key_spaces[space])
    values = {**(case.path_parameters or {}), **(case.body if isinstance(case.body, dict) else {})}
    if not isinstance(values.get(param), int):
        return {}  # a malformed id: no token (and HTTP headers must stay ASCII)
    return {"Authorization": f"Bearer {mint(SECRET, f'{rc.auth}:{values[param]}')}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: Any, client: TestClient) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=_credentials(case))
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)  # per-request cookies are deprecated in the test client
    response = client.request(**kwargs)
    assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
