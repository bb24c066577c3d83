"""The loopback guard accepts this machine only, and never resolves names."""

from __future__ import annotations

import pytest

from perfcore.errors import BadInput
from perfcore.service.loopback import is_loopback_host, require_loopback_url


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST.", "::1", "[::1]"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "0.0.0.0",
        "128.0.0.1",
        "192.168.1.1",
        "example.com",
        "localhost.evil.com",
        "::",
        "::2",
    ],
)
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "https://localhost", "http://[::1]:9000/api", " http://127.0.0.1 "],
)
def test_loopback_urls_pass(url: str) -> None:
    assert require_loopback_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://10.0.0.1", "not a loopback address"),
        ("http://10.0.0.1:8000/", "not a loopback address"),
        ("http://127.0.0.1@10.0.0.1/", "not a loopback address"),
        ("ftp://127.0.0.1", "expected http"),
        ("127.0.0.1:8000", "expected http"),
        ("http://127.0.0.1:notaport", "invalid port"),
    ],
)
def test_other_urls_are_bad_input(url: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem) as info:
        require_loopback_url(url, "--host")
    assert str(info.value).startswith("--host: ")
