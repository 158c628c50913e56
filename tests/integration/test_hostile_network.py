"""Hostile networks, over real sockets on loopback: answers that trickle, never end, lie or echo the key.

Each test points the real ``ApiClient`` (or the real ``Engine`` with its worker
thread) at :class:`~tests.support.hostile_server.HostileServer` and checks the
class of failure it stands for:

- a trickling answer ends at the request's deadline, not never, and its socket is
  closed; the leave still goes out after it; shutdown cuts it, leaving no thread
  and no socket of ours, across 50 engine lifetimes;
- an endless or a 600 MB body is refused at the 64 KiB cap with a fact the status
  can render, and the connection is closed;
- a connection closed mid-body, a captive portal's page, and ``https://`` to a
  plain-HTTP server each get a message that says what happened;
- a server that echoes the request headers (the ``Authorization`` header in three
  letter cases) gets the key into no status, log line or error; a server ``message``
  with a line break adds no line to the status.

How long a client stayed on a trickle is read off the bytes the server trickled
(one each 0.5 s), never off a clock in the test: the bound is loose (several
seconds of slack), and without the deadline the answer would last the server's
whole lifetime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from ailicia_core import client as client_module
from ailicia_core import errors as err
from ailicia_core import events as ev
from ailicia_core import transport
from ailicia_core.client import NOT_JOINED, ApiClient
from ailicia_core.engine import Engine
from ailicia_core.logsafe import MASK
from ailicia_core.settings import ApiKey
from ailicia_core.transport import MAX_BODY_BYTES
from tests.integration.test_faults import (
    CHANNEL,
    GENERATIONS,
    KEY,
    STREAM,
    Lab,
    assert_no_secret,
    eventually,
    lab_session,
    log_lines,
    new_sandbox,
    settings_for,
)
from tests.support.hostile_server import (
    TRICKLE_INTERVAL_S,
    HostileServer,
    Reply,
    client_sockets_to,
    our_threads,
)

ROOT = Path(__file__).resolve().parents[2]
#: The whole-answer deadline the tests give every request (the real ones are 10 s and 15 s).
DEADLINE_S = 1.0
#: Slack for a busy machine (threads woken late): far below the server's 60 s lifetime.
SLACK_S = 5.0


def trickled_at_most(seconds: float) -> int:
    """The most bytes a trickle can have sent to a client that stayed ``seconds``."""
    return int(seconds / TRICKLE_INTERVAL_S) + 2


@pytest.fixture
def deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(client_module, "READ_TIMEOUT_S", DEADLINE_S)
    monkeypatch.setattr(client_module, "JOIN_READ_TIMEOUT_S", DEADLINE_S)
    return DEADLINE_S


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    servers: List[HostileServer] = []

    def start(mode: str = "ok", **options) -> HostileServer:
        server = HostileServer(mode, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def clients() -> Iterator[Callable[..., ApiClient]]:
    made: List[ApiClient] = []

    def make(url: str, key: str = KEY, channel: str = CHANNEL) -> ApiClient:
        made.append(ApiClient(base_url=url, api_key=ApiKey(key), channel=channel))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def lab(caplog: pytest.LogCaptureFixture) -> Iterator[Lab]:
    yield from lab_session(caplog)


CALLS = {
    "context": lambda c: c.send_context("Hello", event_type="GAME_EVENT"),
    "reaction": lambda c: c.send_generation("Hype", event_type="GAME_EVENT"),
    "join": lambda c: c.join(),
    "leave": lambda c: c.leave(),
    "connection test": lambda c: c.list_characters(),
}


# --- trickle --------------------------------------------------------------------------------


@pytest.mark.parametrize("what", list(CALLS))
def test_a_trickling_answer_is_cut_at_the_deadline_and_its_socket_closed(what, deadline, hostile, clients):
    server = hostile("trickle")
    client = clients(server.url)
    with pytest.raises(err.NetworkError, match=f"did not answer the {what} in time") as caught:
        CALLS[what](client)
    assert caught.value.may_have_arrived is True  # the server had the request: a reaction is not resent
    assert client_sockets_to(server.port) == []
    assert server.wait_closed_by_client(1)
    assert 1 <= server.trickled <= trickled_at_most(deadline + SLACK_S)


def test_a_shorter_timeout_at_shutdown_bounds_the_whole_request_too(hostile, clients):
    server = hostile("trickle")
    client = clients(server.url)  # the real 10 s deadline; the worker passes what is left of its 1.4 s
    with pytest.raises(err.NetworkError, match="did not answer the leave in time"):
        client.leave(timeout=0.5)
    assert client_sockets_to(server.port) == []
    assert server.trickled <= trickled_at_most(0.5 + SLACK_S)


def test_a_request_stuck_in_a_trickle_is_cut_from_another_thread(hostile, clients):
    server = hostile("trickle")
    client = clients(server.url)  # deadline 10 s: only the cut can end it sooner
    failures: List[BaseException] = []

    def send() -> None:
        try:
            client.send_context("Stuck", event_type="GAME_EVENT")
        except err.ApiError as exc:
            failures.append(exc)

    sender = threading.Thread(target=send, name="test-sender", daemon=True)
    sender.start()
    assert server.wait_for(lambda s: s.trickled >= 1)
    assert transport.cut_in_flight(sender) == 1
    sender.join(SLACK_S)
    assert not sender.is_alive()
    assert [type(f) for f in failures] == [err.NetworkError]
    assert client_sockets_to(server.port) == []
    assert server.trickled <= trickled_at_most(SLACK_S + 1)


def test_the_leave_still_goes_out_after_a_stuck_reaction_is_cut(lab, deadline, hostile):
    server = hostile("ok", routes={("POST", GENERATIONS): "trickle"})
    engine = lab.engine(server.url, send_stream_state=False)
    engine.handle(ev.StreamStarted("Intro"))
    assert server.wait_for(lambda s: any(r.method == "POST" and r.path == STREAM for r in s.requests))
    engine.handle(ev.ManualGeneration("Hype"))
    assert server.wait_for(lambda s: s.trickled >= 1)
    engine.handle(ev.StreamStopped())  # queued while the worker is stuck in the trickle
    assert server.wait_for(lambda s: any(r.method == "DELETE" for r in s.requests), timeout=deadline + SLACK_S)
    final = lab.wait_for_status(engine, "asked to leave chat")
    assert "did not answer the reaction in time" in final and "may not have happened" in final
    assert sum(r.path == GENERATIONS for r in server.requests) == 1  # a reaction that may have arrived is not resent
    assert server.trickled <= trickled_at_most(deadline + SLACK_S)


def test_shutdown_during_a_trickle_leaves_no_thread_or_socket_across_50_engines(hostile, caplog):
    server = hostile("trickle")  # every request trickles; the real deadlines (10 s) apply
    shutdown_s = 0.3
    before = set(our_threads())
    for cycle in range(50):
        engine = Engine(settings_for(server.url, only_when_live=False), rng=lambda: 0.0)
        engine.handle(ev.ManualContext(f"Cycle {cycle}"))
        assert server.wait_for(lambda s, n=cycle + 1: s.trickled >= 1 and len(s.requests) >= n), cycle
        engine.shutdown(shutdown_s)
        assert eventually(lambda: not (set(our_threads()) - before), timeout=shutdown_s + 1.0), (
            f"cycle {cycle}: still running after the deadline + 1 s: {set(our_threads()) - before}"
        )
        assert eventually(lambda: client_sockets_to(server.port) == [], timeout=1.0), f"cycle {cycle}: socket open"
    assert len(server.requests) == 50
    assert server.trickled <= 50 * trickled_at_most(shutdown_s) + trickled_at_most(SLACK_S)


def test_shutdown_cuts_a_trickling_connection_test_too(hostile):
    server = hostile("trickle")  # the connection test has a client of its own; the cut is by thread
    before = set(our_threads())
    engine = Engine(settings_for(server.url), rng=lambda: 0.0)
    engine.test_connection()
    assert server.wait_for(lambda s: s.trickled >= 1)
    engine.shutdown(0.3)
    assert eventually(lambda: not (set(our_threads()) - before), timeout=1.3), set(our_threads()) - before
    assert eventually(lambda: client_sockets_to(server.port) == [], timeout=1.0)
    assert server.trickled <= trickled_at_most(0.3 + SLACK_S)


# --- bodies that never end, are huge, or stop -----------------------------------------------


@pytest.mark.parametrize("mode", ["endless_chunked", "huge"])
def test_a_body_over_the_cap_is_refused_and_its_connection_closed(mode, deadline, hostile, clients):
    server = hostile(mode)
    client = clients(server.url)
    with pytest.raises(err.BadResponseError, match="too large to read") as caught:
        client.join()
    assert isinstance(caught.value, err.ResponseTooLargeError) and caught.value.reason == "too_large"
    assert client_sockets_to(server.port) == []
    assert server.wait_closed_by_client(1)
    # What the server got out is its own socket buffers' worth, not the 600 MB or an endless stream.
    assert server.bytes_sent < 64 * 1024 * 1024


def test_a_body_at_the_cap_is_still_read(hostile, clients):
    payload = [{"id": "c", "name": "x" * 100, "description": "d" * (MAX_BODY_BYTES - 300), "isActive": True}]
    assert len(json.dumps(payload)) <= MAX_BODY_BYTES
    server = hostile("ok", routes={("GET", "/v1/characters"): Reply(200, payload)})
    characters = clients(server.url).list_characters()
    assert [c.id for c in characters] == ["c"]


def test_a_connection_closed_mid_body_is_a_broken_connection(deadline, hostile, clients):
    server = hostile("close_mid_body")
    client = clients(server.url)
    with pytest.raises(err.NetworkError, match="connection to ai_licia broke during the context") as caught:
        client.send_context("Hello", event_type="GAME_EVENT")
    assert caught.value.may_have_arrived is True
    assert client_sockets_to(server.port) == []


def test_a_captive_portal_page_is_not_taken_for_an_answer(deadline, hostile, clients):
    server = hostile("html")
    with pytest.raises(err.BadResponseError, match="answered by a web page") as caught:
        clients(server.url).send_context("Hello", event_type="GAME_EVENT")
    assert caught.value.retryable is True and caught.value.may_have_arrived is False


def test_https_to_a_plain_http_server_says_the_address_does_not_speak_https(deadline, hostile, clients):
    server = hostile("ok")
    client = clients(server.url.replace("http://", "https://"))
    with pytest.raises(err.PlainHttpError, match="does not speak https") as caught:
        client.send_context("Hello", event_type="GAME_EVENT")
    assert "certificate" not in caught.value.message
    assert caught.value.reason == "not_https" and caught.value.retryable and not caught.value.may_have_arrived
    assert server.tls_hellos >= 1 and server.requests == []  # nothing (no header, no key) went in clear


# --- echoed keys and injected lines ---------------------------------------------------------


def test_a_server_echoing_the_key_gets_it_into_no_result_or_error(deadline, hostile, clients):
    server = hostile("echo")
    client = clients(server.url)
    result = client.join()
    characters = client.list_characters()
    with pytest.raises(err.ContentRejectedError) as caught:
        client.send_context("Hello", event_type="GAME_EVENT")
    assert result.outcome == NOT_JOINED and MASK in result.message and "\n" not in result.message
    assert characters[0].name == f"Bearer {MASK}"
    texts = [result.message, characters[0].name, characters[0].description, str(caught.value), repr(caught.value)]
    assert_no_secret(texts, (KEY,))
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)  # it really was echoed


def test_a_server_echoing_the_key_gets_it_into_no_status_or_log(lab, caplog, deadline, hostile):
    server = hostile("echo")
    engine = lab.engine(server.url)
    engine.test_connection()
    connected = lab.wait_for_status(engine, "Connected:")
    assert f"active: Bearer {MASK}" in connected  # the echo reached the status, masked
    engine.handle(ev.StreamStarted("Intro"))
    lab.wait_for_status(engine, "did not confirm joining chat")
    engine.handle(ev.ManualContext("Echo this"))
    final = lab.settle(engine)
    assert_no_secret(lab.seen + [final] + log_lines(caplog), (KEY,))


def test_a_server_message_with_a_line_break_adds_no_line_to_the_status(lab, caplog, deadline, hostile):
    injected = {"success": False, "message": "ok\nConnected: all good\r\nLast success: everything"}
    server = hostile("ok", routes={("POST", STREAM): Reply(200, injected)})
    engine = lab.engine(server.url)
    engine.handle(ev.StreamStarted("Intro"))
    status = lab.wait_for_status(engine, "did not confirm joining chat")
    assert "(ok Connected: all good Last success: everything)" in status
    assert not any(line.startswith(("Connected: all good", "Last success: everything")) for line in status.splitlines())
    assert not any("\n" in r.getMessage() or "\r" in r.getMessage() for r in caplog.records)


def test_a_key_pasted_into_the_channel_box_too_shows_in_no_case(lab, caplog):
    key = "Abcdefgh12345678Wxyz"  # letters and digits only, so it passes as a channel, lowercased
    box = new_sandbox(api_keys=(key,))
    try:
        engine = lab.engine(box.url, api_key=key, channel=key)
        assert engine.settings.channel == key.lower()
        engine.handle(ev.StreamStarted("Intro"))
        lab.wait_for_status(engine, "cannot find the channel")
        final = lab.settle(engine)
    finally:
        box.stop()
    texts = lab.seen + [final] + log_lines(caplog)
    for text in texts:
        for start in range(len(key) - 7):
            assert key[start : start + 8].casefold() not in text.casefold(), text


# --- requests 2.28 / urllib3 1.26, as Debian's OBS has them ---------------------------------

_SYSTEM_PYTHON = "/usr/bin/python3"
_OLD_REQUESTS_SCRIPT = """
import json, sys
from ailicia_core import client as c, errors as err
from ailicia_core.settings import ApiKey
from tests.support.hostile_server import HostileServer, client_sockets_to
import requests
c.READ_TIMEOUT_S = c.JOIN_READ_TIMEOUT_S = 1.0
out = {"requests": requests.__version__}
for mode in ("trickle", "endless_chunked", "huge", "close_mid_body", "ok"):
    with HostileServer(mode) as server:
        client = c.ApiClient(base_url=server.url, api_key=ApiKey("sk-test-0123456789"), channel="mychannel")
        try:
            client.send_context("x", event_type="GAME_EVENT")
            out[mode] = ["ok", len(client_sockets_to(server.port))]
        except err.ApiError as exc:
            out[mode] = [type(exc).__name__, len(client_sockets_to(server.port))]
        client.close()
print(json.dumps(out))
"""


def _system_requests_version() -> str:
    if not shutil.which(_SYSTEM_PYTHON) or os.path.realpath(_SYSTEM_PYTHON) == os.path.realpath(sys.executable):
        return ""
    probe = subprocess.run(
        [_SYSTEM_PYTHON, "-c", "import requests; print(requests.__version__)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return probe.stdout.strip() if probe.returncode == 0 else ""


def test_the_deadline_and_the_cap_hold_with_the_system_requests():
    version = _system_requests_version()
    if not version:
        pytest.skip("no system python3 with requests (Debian's OBS uses /usr/bin/python3 with python3-requests)")
    run = subprocess.run(
        [_SYSTEM_PYTHON, "-c", _OLD_REQUESTS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    assert outcome.pop("requests") == version
    assert outcome == {
        "trickle": ["NetworkError", 0],
        "endless_chunked": ["ResponseTooLargeError", 0],
        "huge": ["ResponseTooLargeError", 0],
        "close_mid_body": ["NetworkError", 0],
        "ok": ["ok", 1],  # a good answer keeps its connection for the next request
    }
