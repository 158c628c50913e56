"""The dock's request checks (Host, Origin, token) and its rate limit, as pure functions with a fake clock."""

from __future__ import annotations

import pytest

from ailicia_core.dock.guard import refusal, token_matches
from ailicia_core.dock.ratelimit import TokenBucket

PORT = 51744
TOKEN = "s3cret-token_ABC"


def check(method="GET", host=f"127.0.0.1:{PORT}", origin=None, given=TOKEN, token=TOKEN):
    return refusal(method=method, host=host, origin=origin, given_token=given, token=token, port=PORT)


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"LOCALHOST:{PORT}"])
def test_the_docks_own_host_is_served(host):
    assert check(host=host) is None


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        f"evil.example:{PORT}",
        "127.0.0.1",
        f"127.0.0.1:{PORT + 1}",
        f"127.0.0.2:{PORT}",
        f"[::1]:{PORT}",
        f"localhost.evil.example:{PORT}",
    ],
)
def test_any_other_host_is_refused_even_with_the_token(host):
    assert check(host=host) == "bad_host"


@pytest.mark.parametrize("given", [None, "", "wrong", TOKEN.lower(), TOKEN + "x", TOKEN[:-1], "é" + TOKEN])
def test_a_missing_or_wrong_token_is_refused(given):
    assert check(given=given) == "bad_token"


def test_an_empty_configured_token_matches_nothing():
    assert not token_matches("", "")
    assert check(given="", token="") == "bad_token"


@pytest.mark.parametrize("origin", [None, f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}"])
def test_a_post_from_the_dock_itself_or_a_local_program_is_served(origin):
    assert check(method="POST", origin=origin) is None


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", f"http://127.0.0.1:{PORT + 1}", f"https://127.0.0.1:{PORT}", ""]
)
def test_a_cross_origin_post_is_refused_even_with_the_token(origin):
    assert check(method="POST", origin=origin) == "bad_origin"


def test_the_bucket_lets_a_burst_through_then_refuses_until_it_refills():
    now = [100.0]
    bucket = TokenBucket(3, 2.0, lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() > 0
    now[0] += 60.0  # a long quiet time refills to the burst, not beyond
    assert [bucket.take() for _ in range(4)][-1] > 0
