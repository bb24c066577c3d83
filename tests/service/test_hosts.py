"""The load-test allow-list: loopback always, listed hosts only, parsed as the HTTP client parses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util import parse_url

from perfcore.errors import BadInput
from perfcore.service.hosts import is_allowed_host, redirect_allowed, target_of


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.com\\@127.0.0.1:8000",  # urllib3 connects to evil.com
        "http://evil.com@127.0.0.1:8000",
        "http://user:pw@127.0.0.1:8000",
        "http://127.0.0.1 :8000",
        "http://127.0.0.1:8000/\r\nHost: evil.com",
        "ftp://127.0.0.1",
        "http://127.1:80",  # inet_aton shorthand: refused rather than guessed
        "http://staging.example.com",
        "http://10.0.0.1:8000",
    ],
)
def test_refused_targets(url: str) -> None:
    with pytest.raises(BadInput, match="--host"):
        target_of(url, [])


def test_backslash_trick_is_refused_and_named() -> None:
    with pytest.raises(BadInput, match="backslash"):
        target_of("http://evil.com\\@127.0.0.1:8000", ["127.0.0.1"])


def test_loopback_and_listed_hosts_are_accepted() -> None:
    assert target_of("http://127.0.0.1:8000", []).port == 8000
    assert target_of("http://[::1]:9000/", []).host == "::1"
    assert target_of("http://LOCALHOST.:80", []).host == "localhost"
    staging = target_of("https://Staging.Example.com", ["staging.example.com"])
    assert (staging.scheme, staging.host, staging.port) == ("https", "staging.example.com", 443)
    with pytest.raises(BadInput, match=r"not in loadtest\.allowed_hosts"):
        target_of("https://staging.example.com.evil.net", ["staging.example.com"])


def test_redirects_stay_on_the_allow_list() -> None:
    base = "http://staging.example.com:8080"
    allowed = ["staging.example.com"]
    assert redirect_allowed(base, "/events/1", allowed)
    assert redirect_allowed(base, "http://127.0.0.1:9/x", allowed)
    assert not redirect_allowed(base, "http://evil.com/x", allowed)
    assert not redirect_allowed(base, "//evil.com/x", allowed)
    assert not redirect_allowed(base, "http://evil.com\\@staging.example.com/", allowed)


@given(st.text(min_size=1, max_size=40))
def test_an_accepted_url_connects_where_the_check_looked(junk: str) -> None:
    url = f"http://{junk}"
    try:
        target = target_of(url, ["staging.example.com"])
    except BadInput:
        return
    client_host = (parse_url(url).host or "").strip("[]").rstrip(".").lower()
    assert client_host == target.host and is_allowed_host(client_host, ["staging.example.com"])
