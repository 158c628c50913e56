"""transport: the seams of the whole-request deadline and the cap.

The sockets themselves (trickle, endless and huge bodies) are in ``integration/test_hostile_network.py``.
"""

from __future__ import annotations

import threading

import requests
import responses

from ailicia_core import transport
from ailicia_core.transport import MAX_BODY_BYTES, BodyTooLarge, WatchedAdapter, cut_in_flight, fetch, watch

URL = "https://api.example.test/v1/characters"


def test_watch_mounts_one_watched_adapter_per_scheme_and_is_idempotent():
    with requests.Session() as session:
        old = session.adapters["https://"]
        assert watch(session) is session
        first = dict(session.adapters)
        watch(session)
        assert all(isinstance(first[p], WatchedAdapter) for p in ("http://", "https://"))
        assert dict(session.adapters) == first and first["https://"] is not old


def test_the_watched_pools_make_watched_connections():
    adapter = WatchedAdapter()
    pool = adapter.poolmanager.connection_from_url("https://api.example.test")
    assert issubclass(pool.ConnectionCls, transport._WatchedHTTPSConnection)
    adapter.close()


@responses.activate
def test_a_fetched_body_reads_as_usual_and_the_request_is_no_longer_in_flight():
    responses.get(URL, json=[{"id": "c"}])
    with requests.Session() as session:
        response = fetch(watch(session), "GET", URL, deadline_s=5.0)
        assert response.json() == [{"id": "c"}] and response.content == b'[{"id": "c"}]'
        assert cut_in_flight(threading.current_thread()) == 0 and transport._in_flight == {}


@responses.activate
def test_a_body_over_the_cap_is_refused_and_one_at_the_cap_is_read():
    responses.get(URL, body=b" " * (MAX_BODY_BYTES + 1))
    with requests.Session() as session:
        try:
            fetch(session, "GET", URL, deadline_s=5.0)
        except BodyTooLarge as exc:
            assert exc.limit == MAX_BODY_BYTES
        else:
            raise AssertionError("a body over the cap was accepted")
        assert fetch(session, "GET", URL, deadline_s=5.0, max_bytes=MAX_BODY_BYTES + 1).content.strip() == b""


@responses.activate
def test_the_timeout_is_the_deadline_and_connect_never_waits_longer():
    responses.get(URL, json=[])
    with requests.Session() as session:
        fetch(session, "GET", URL, deadline_s=2.0)
        fetch(session, "GET", URL, deadline_s=60.0)
        fetch(session, "GET", URL, deadline_s=-1.0)
    timeouts = [call.request.req_kwargs["timeout"] for call in responses.calls]
    assert timeouts == [(2.0, 2.0), (transport.CONNECT_TIMEOUT_S, 60.0), (0.05, 0.05)]


def test_only_a_tls_failure_against_plain_http_counts_as_speaking_plain_http():
    wrong_version = requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    assert transport.speaks_plain_http(wrong_version)
    assert not transport.speaks_plain_http(requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED]"))
    assert not transport.speaks_plain_http(requests.exceptions.ConnectionError("WRONG_VERSION_NUMBER"))
