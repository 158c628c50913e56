"""The command line tells the truth (issue 10): each message as a new user would meet it, on loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from ailicia_core import cli
from ailicia_core.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig

KEY = DEFAULT_API_KEY


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True, join_delay_s=0.05)).start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, KEY)
    monkeypatch.delenv(cli.ENV_CHANNEL, raising=False)
    monkeypatch.delenv(cli.ENV_BASE_URL, raising=False)


@pytest.fixture
def run(capsys):
    def run(*argv: str):
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


class SilentServer:
    """Accepts connections on loopback and never answers a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._held: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._held.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self._sock.close()


def test_check_needs_no_channel(run, sandbox):
    code, out, err = run("check", "--base-url", sandbox.url)
    assert code == cli.EXIT_OK, err
    assert "accepted the key" in out and "No channel" not in err


def test_no_channel_is_said_only_when_none_was_given(run, sandbox):
    code, _, err = run("join", "--base-url", sandbox.url, "--channel", "not a channel!")
    assert code == cli.EXIT_USAGE
    assert "No channel" not in err and "letters, digits and _" in err
    code, _, err = run("join", "--base-url", sandbox.url)
    assert code == cli.EXIT_USAGE and "No channel" in err
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "label, words",
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("E" * 65, "65 characters long"),
        ("E" * 100_000, "100000 characters long"),
    ],
)
@pytest.mark.parametrize("command", ["send", "trigger"])
def test_an_empty_or_over_long_event_type_exits_2_and_sends_nothing(run, sandbox, command, label, words):
    code, _, err = run(command, "--channel", "mychannel", "--base-url", sandbox.url, "--event-type", label, "hi")
    assert code == cli.EXIT_USAGE and words in err
    assert sandbox.requests == []


def test_the_base_url_defaults_to_the_environment_variable(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_BASE_URL, sandbox.url)
    code, _, err = run("leave", "--channel", "mychannel")
    assert code == cli.EXIT_OK, err
    assert [r.path for r in sandbox.requests] == ["/v1/streams/mychannel"]


def test_v1_appended_to_the_address_is_blamed_on_the_address_not_the_channel(run, sandbox):
    code, _, err = run("join", "--channel", "mychannel", "--base-url", sandbox.url + "/v1")
    assert code == cli.EXIT_CHANNEL_REFUSED
    assert "--base-url" in err and "without /v1" in err
    assert "cannot find the channel" not in err


def test_https_to_a_plain_http_server_says_the_address_does_not_speak_https(run, sandbox):
    code, _, err = run("check", "--base-url", sandbox.url.replace("http://", "https://"))
    assert code == cli.EXIT_UNREACHABLE
    assert "does not speak https://" in err and "certificate" not in err


def test_a_401_in_the_terminal_does_not_say_sending_is_paused(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, "wrong-key-7f3a9c51")
    code, _, err = run("send", "--channel", "mychannel", "--base-url", sandbox.url, "hello")
    assert code == cli.EXIT_KEY_REJECTED
    assert "rejected the API key" in err and "paused" not in err


def test_a_join_against_a_silent_server_exits_7_within_the_limit_the_help_states(run, capsys, monkeypatch):
    assert f"gives up after {cli.JOIN_WAIT_S:g} s without an answer (exit code 7)" in _help(run, "join")
    monkeypatch.setattr(cli, "JOIN_WAIT_S", 1.0)  # 15 s in production: the same path, shorter
    server = SilentServer()
    try:
        code, out, err = run("join", "--channel", "mychannel", "--base-url", server.url)
    finally:
        server.close()
    assert code == cli.EXIT_JOIN_NOT_CONFIRMED
    assert "did not answer the join for #mychannel within 1 s" in err


def _help(run, command: str) -> str:
    code, out, _ = run(command, "--help")
    return out.replace("\n", " ")
