"""The command line over real HTTP on loopback: each command's success, its failures and exit codes, help.

Commands run in-process through ``cli.main(argv)`` against an in-process sandbox;
two tests run ``python -m ailicia_core`` as a real subprocess. Nothing leaves loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import responses

from ailicia_core import cli
from ailicia_core.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[2]
KEY = DEFAULT_API_KEY
#: Distinctive, so that finding it nowhere in the output means something.
BAD_KEY = "wrong-key-7f3a9c51"
COMMANDS = ("check", "send", "trigger", "join", "leave")


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


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
    def run(*argv: str) -> Ran:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def against(box: Sandbox, command: str, *rest: str, channel: str = "mychannel") -> list:
    """argv for ``command`` aimed at ``box`` (text commands get a text)."""
    text = ("Boss fight in 5 minutes",) if command in ("send", "trigger") else ()
    return [command, "--channel", channel, "--base-url", box.url, *rest, *text]


def assert_readable(ran: Ran, *secrets: str) -> None:
    assert "Traceback" not in ran.text
    for secret in secrets:
        assert secret not in ran.text


# --- success ---------------------------------------------------------------------------


def test_check_lists_the_characters(run, sandbox):
    ran = run(*against(sandbox, "check"))
    assert ran.code == cli.EXIT_OK
    assert "accepted the key" in ran.out and "Captain Vibes (active), Cozy Willow" in ran.out
    assert [(r.method, r.path, r.status) for r in sandbox.requests] == [("GET", "/v1/characters", 200)]
    assert_readable(ran, KEY)


def test_send_adds_context(run, sandbox):
    ran = run("send", "--channel", "mychannel", "--base-url", sandbox.url, "Boss", "fight", "in 5 minutes")
    assert ran.code == cli.EXIT_OK
    assert "Boss fight in 5 minutes" in ran.out
    (request,) = sandbox.requests
    assert (request.method, request.path, request.status) == ("POST", "/v1/events", 200)
    assert request.body == {
        "eventType": "GAME_EVENT",
        "data": {"channelName": "mychannel", "content": "Boss fight in 5 minutes"},
    }


def test_trigger_asks_for_a_reaction_with_the_channel_normalized(run, sandbox):
    ran = run(*against(sandbox, "trigger", "--event-type", "CHAT_TRIGGER", channel="https://twitch.tv/MyChannel"))
    assert ran.code == cli.EXIT_OK
    (request,) = sandbox.requests
    assert (request.path, request.status) == ("/v1/events/generations", 200)
    assert request.body == {
        "eventType": "CHAT_TRIGGER",
        "data": {"channelName": "mychannel", "content": "Boss fight in 5 minutes"},
    }


def test_join_says_it_is_waiting_then_joins_then_finds_her_already_there(run, sandbox):
    first = run(*against(sandbox, "join"))
    assert first.code == cli.EXIT_OK
    assert first.out.splitlines()[0] == "Asking ai_licia to join #mychannel… (this can take up to 15 s)"
    assert "ai_licia joined #mychannel's chat." in first.out
    again = run(*against(sandbox, "join"))
    assert again.code == cli.EXIT_OK and "already in #mychannel's chat" in again.out
    assert sandbox.joined_channels == {"mychannel"}


def test_leave(run, sandbox):
    assert run(*against(sandbox, "join")).code == cli.EXIT_OK
    ran = run(*against(sandbox, "leave"))
    assert ran.code == cli.EXIT_OK and "asked to leave #mychannel" in ran.out
    assert [(r.method, r.status) for r in sandbox.requests] == [("POST", 200), ("DELETE", 202)]
    assert sandbox.joined_channels == frozenset()


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_rejected_key_exits_3_with_a_message_and_never_the_key(run, sandbox, command):
    ran = run(*against(sandbox, command, "--api-key", BAD_KEY))
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert "rejected the API key" in ran.err and "(401)" in ran.err
    if command == "check":  # asks for the characters: only the key can be wrong
        assert "Check the key (--api-key)" in ran.err and "channel" not in ran.err
    else:  # names the channel: the API answers 401 for a channel the key does not control as well
        assert "check the channel name (--channel) or the key (--api-key)" in ran.err
    assert "Sending is paused" not in ran.err  # the panel's words; a command pauses nothing
    assert [r.status for r in sandbox.requests] == [401]
    assert_readable(ran, BAD_KEY)


@pytest.mark.parametrize("command", ("join", "leave"))
@pytest.mark.parametrize("channel, status", [("nobody", 404), ("someoneelse", 403)])
def test_an_unknown_or_foreign_channel_exits_4(run, sandbox, command, channel, status):
    ran = run(*against(sandbox, command, channel=channel))
    assert ran.code == cli.EXIT_CHANNEL_REFUSED
    assert f"({status})" in ran.err and f"'{channel}'" in ran.err
    assert [r.status for r in sandbox.requests] == [status]
    assert_readable(ran, KEY)


def test_a_join_without_subscription_or_credits_exits_4(run, sandbox):
    sandbox.set_faults(no_credits=True)
    ran = run(*against(sandbox, "join"))
    assert ran.code == cli.EXIT_CHANNEL_REFUSED
    assert "subscription or credits" in ran.err


def test_a_second_reaction_inside_the_window_exits_5_and_says_when_to_retry(run, sandbox):
    assert run(*against(sandbox, "trigger")).code == cli.EXIT_OK
    ran = run(*against(sandbox, "trigger"))
    assert ran.code == cli.EXIT_RATE_LIMITED
    assert "(429)" in ran.err and "try again in" in ran.err
    assert "Retrying" not in ran.err  # the worker retries; a command does not
    assert [r.status for r in sandbox.requests] == [200, 429]


def test_a_join_that_is_never_confirmed_exits_7(run, sandbox):
    sandbox.set_faults(join_always_times_out=True)
    ran = run(*against(sandbox, "join"))
    assert ran.code == cli.EXIT_JOIN_NOT_CONFIRMED
    assert ran.out.startswith("Asking ai_licia to join #mychannel…")
    assert "did not confirm joining #mychannel in time" in ran.err and "timed out after 10 seconds" in ran.err
    assert "may still join" in ran.err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_stopped_sandbox_connection_refused_exits_6(run, command):
    box = Sandbox(SandboxConfig(quiet=True)).start()
    url = box.url
    box.stop()
    ran = run(
        command, "--channel", "mychannel", "--base-url", url, *(("hello",) if command in ("send", "trigger") else ())
    )
    assert ran.code == cli.EXIT_UNREACHABLE
    assert f"nothing answers at {url}" in ran.err and "Check --base-url" in ran.err
    assert "internet" not in ran.err  # a closed port on this computer is not the internet's fault
    assert_readable(ran, KEY)


@pytest.mark.parametrize("fault", ["fail_first", "garbage_first"])
def test_a_failing_server_or_an_unreadable_answer_exits_6(run, sandbox, fault):
    sandbox.set_faults(**{fault: 1})
    ran = run(*against(sandbox, "check"))
    assert ran.code == cli.EXIT_UNREACHABLE
    assert "ai_licia" in ran.err
    assert_readable(ran, KEY)


# --- settings and usage --------------------------------------------------------------------


def test_the_key_comes_from_the_environment_variable(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, BAD_KEY)
    ran = run(*against(sandbox, "check"))
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert f"Check the key (the {cli.ENV_API_KEY} environment variable)" in ran.err
    assert "Better: set the" not in ran.err  # the advice is only for --api-key
    assert_readable(ran, BAD_KEY)


def test_api_key_option_works_and_advises_the_environment_variable(run, sandbox, monkeypatch):
    monkeypatch.delenv(cli.ENV_API_KEY)
    ran = run(*against(sandbox, "check", "--api-key", KEY))
    assert ran.code == cli.EXIT_OK
    assert f"set the {cli.ENV_API_KEY} environment variable instead of --api-key" in ran.err
    assert_readable(ran, KEY)


def test_no_key_exits_2_naming_the_environment_variable_and_sends_nothing(run, sandbox, monkeypatch):
    monkeypatch.delenv(cli.ENV_API_KEY)
    ran = run(*against(sandbox, "join"))
    assert ran.code == cli.EXIT_USAGE
    assert cli.ENV_API_KEY in ran.err
    assert sandbox.requests == []


def test_the_channel_can_come_from_the_environment(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_CHANNEL, "#MyChannel")
    assert run("join", "--base-url", sandbox.url).code == cli.EXIT_OK
    assert [r.path for r in sandbox.requests] == ["/v1/streams/mychannel"]


def test_no_channel_exits_2(run, sandbox):
    ran = run("join", "--base-url", sandbox.url)
    assert ran.code == cli.EXIT_USAGE and "--channel" in ran.err
    assert sandbox.requests == []


@pytest.mark.parametrize("channel", [KEY, KEY.upper(), f"https://twitch.tv/{KEY}"])
def test_a_key_pasted_as_the_channel_is_refused_with_2_and_never_shown(run, sandbox, channel):
    ran = run(*against(sandbox, "join", channel=channel))
    assert ran.code == cli.EXIT_USAGE
    assert "looks like your API key" in ran.err
    assert sandbox.requests == []
    assert KEY not in ran.text.lower()


@pytest.mark.parametrize("command", COMMANDS)
def test_http_to_another_computer_is_refused_with_2_before_anything_is_sent(run, command):
    # responses intercepts every request: a bug here would be recorded, never sent.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        ran = run(
            command,
            "--channel",
            "mychannel",
            "--base-url",
            "http://api.getailicia.com",
            *(("hello",) if command in ("send", "trigger") else ()),
        )
        assert len(mock.calls) == 0
    assert ran.code == cli.EXIT_USAGE
    assert "https://" in ran.err and "--base-url" in ran.err


@pytest.mark.parametrize("command, limit", [("send", 700), ("trigger", 300)])
def test_text_over_the_limit_exits_2_and_sends_nothing(run, sandbox, command, limit):
    ran = run(command, "--channel", "mychannel", "--base-url", sandbox.url, "x" * (limit + 1))
    assert ran.code == cli.EXIT_USAGE
    assert f"{limit + 1} characters long" in ran.err and f"at most {limit}" in ran.err
    assert sandbox.requests == []


@pytest.mark.parametrize("argv", [["frobnicate"], ["send", "--channel", "mychannel"], ["join", "--bogus"]])
def test_usage_errors_exit_2(run, argv):
    ran = run(*argv)
    assert ran.code == cli.EXIT_USAGE
    assert "usage: python -m ailicia_core" in ran.err


@pytest.mark.parametrize("command", [*COMMANDS, "demo", "sandbox"])
def test_every_command_has_help(run, command):
    ran = run(command, "--help")
    assert ran.code == cli.EXIT_OK
    assert ran.out.startswith(f"usage: python -m ailicia_core {command}")
    if command in COMMANDS:
        assert "--api-key" in ran.out and cli.ENV_API_KEY in ran.out and "--base-url" in ran.out


def test_top_level_help_lists_the_commands_and_every_exit_code(run):
    ran = run("--help")
    assert ran.code == cli.EXIT_OK
    for command in (*COMMANDS, "demo", "sandbox"):
        assert f"    {command} " in ran.out
    for code, _ in cli.EXIT_CODES:
        assert f"\n  {code} " in ran.out


def test_an_ordinary_request_never_reports_a_traceback_even_on_a_bug(run, sandbox, monkeypatch):
    from ailicia_core import client

    def broken(self, **kwargs):
        raise RuntimeError(f"boom {KEY}")

    monkeypatch.setattr(client.ApiClient, "list_characters", broken)
    ran = run(*against(sandbox, "check"))
    assert ran.code == cli.EXIT_FAILED
    assert "Unexpected error (RuntimeError)" in ran.err
    assert_readable(ran, KEY)


# --- a real process ------------------------------------------------------------------------


def python_m(*argv: str, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ailicia_core", *argv],
        cwd=ROOT,
        env=env,
        text=True,
        encoding="utf-8",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILICIA_")}
    env.update(extra)
    return env


def test_python_m_ailicia_core_check_in_a_real_process(sandbox):
    process = python_m("check", "--channel", "mychannel", "--base-url", sandbox.url, env=clean_env(AILICIA_API_KEY=KEY))
    out, err = process.communicate(timeout=60)
    assert process.returncode == cli.EXIT_OK, err
    assert "accepted the key" in out
    assert KEY not in out + err


def test_python_m_ailicia_core_sandbox_serves_until_terminated():
    process = python_m("sandbox", "--port", "0", env=clean_env())
    try:
        banner = process.stdout.readline()
        assert banner.startswith("ai_licia sandbox listening on http://127.0.0.1:")
        url = banner.split()[-1]
        assert cli.main(["join", "--channel", "mychannel", "--base-url", url, "--api-key", KEY]) == cli.EXIT_OK
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "POST   /v1/streams/mychannel" in out and "sandbox stopped" in out


# --- the command line tells the truth -------------------------------------------------------


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
    ran = run("check", "--base-url", sandbox.url)
    assert ran.code == cli.EXIT_OK, ran.err
    assert "accepted the key" in ran.out and "No channel" not in ran.err


def test_no_channel_is_said_only_when_none_was_given(run, sandbox):
    ran = run("join", "--base-url", sandbox.url, "--channel", "not a channel!")
    assert ran.code == cli.EXIT_USAGE
    assert "No channel" not in ran.err and "letters, digits and _" in ran.err
    ran = run("join", "--base-url", sandbox.url)
    assert ran.code == cli.EXIT_USAGE and "No channel" in ran.err
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
    ran = run(command, "--channel", "mychannel", "--base-url", sandbox.url, "--event-type", label, "hi")
    assert ran.code == cli.EXIT_USAGE and words in ran.err
    assert sandbox.requests == []


def test_the_base_url_defaults_to_the_environment_variable(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_BASE_URL, sandbox.url)
    ran = run("leave", "--channel", "mychannel")
    assert ran.code == cli.EXIT_OK, ran.err
    assert [r.path for r in sandbox.requests] == ["/v1/streams/mychannel"]


def test_v1_appended_to_the_address_is_blamed_on_the_address_not_the_channel(run, sandbox):
    ran = run("join", "--channel", "mychannel", "--base-url", sandbox.url + "/v1")
    assert ran.code == cli.EXIT_ADDRESS
    assert "Check --base-url" in ran.err and "no path such as /v1" in ran.err
    assert "cannot find the channel" not in ran.err


def test_https_to_a_plain_http_server_says_the_address_does_not_speak_https(run, sandbox):
    ran = run("check", "--base-url", sandbox.url.replace("http://", "https://"))
    assert ran.code == cli.EXIT_ADDRESS
    assert "does not speak https://" in ran.err and "certificate" not in ran.err


def test_a_401_in_the_terminal_does_not_say_sending_is_paused(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, "wrong-key-7f3a9c51")
    ran = run("send", "--channel", "mychannel", "--base-url", sandbox.url, "hello")
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert "rejected the API key" in ran.err and "paused" not in ran.err


def test_a_join_against_a_silent_server_exits_7_within_the_limit_the_help_states(run, capsys, monkeypatch):
    assert f"gives up after {cli.JOIN_WAIT_S:g} s without an answer (exit code 7)" in _help(run, "join")
    monkeypatch.setattr(cli, "JOIN_WAIT_S", 1.0)  # 15 s in production: the same path, shorter
    server = SilentServer()
    try:
        ran = run("join", "--channel", "mychannel", "--base-url", server.url)
    finally:
        server.close()
    assert ran.code == cli.EXIT_JOIN_NOT_CONFIRMED
    assert "did not answer the join for #mychannel within 1 s" in ran.err


def _help(run, command: str) -> str:
    return run(command, "--help").out.replace("\n", " ")
