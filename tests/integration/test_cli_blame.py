"""The command line blames the right thing, over real HTTP on loopback against the sandbox.

A wrong channel is not blamed on the key, a wrong address is blamed on the address
(with its exit code, on every command), a setting is named by where it came from
(flag or environment variable), a closed port on this computer is not "the internet",
and nothing printed holds the key.
"""

from __future__ import annotations

import sys
import threading

import pytest
import responses

from ailicia_core import cli
from ailicia_core import client as client_module
from ailicia_core.sandbox import Sandbox, SandboxConfig
from ailicia_core.sandbox.dashboard import serve
from tests.integration.test_cli import (
    KEY,
    Ran,
    SilentServer,
    against,
    assert_readable,
    environment,  # noqa: F401 (autouse: the sandbox's key in the environment)
)

pytestmark = pytest.mark.timeout(60)
COMMANDS = ("check", "send", "trigger", "join", "leave", "listen")


@pytest.fixture
def run(capsys):
    def run(*argv: str) -> Ran:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True, join_delay_s=0.05)).start()
    yield box
    box.stop()


def _with_text(command: str) -> tuple:
    return ("hello",) if command in ("send", "trigger") else ("--seconds", "10") if command == "listen" else ()


# --- a channel the key does not control -----------------------------------------------


@pytest.mark.parametrize("command", ("send", "trigger"))
def test_a_channel_the_key_does_not_control_is_blamed_on_the_channel_first(run, sandbox, command):
    ran = run(*against(sandbox, command, channel="someoneelse"))
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert "The key was refused for this channel: check the channel name (--channel) or the key" in ran.err
    assert "paste it again" not in ran.err
    assert_readable(ran, KEY)


def test_check_with_a_wrong_key_and_no_channel_blames_the_key_alone(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, "wrong-key-7f3a9c51")
    ran = run("check", "--base-url", sandbox.url)
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert "ai_licia rejected the API key (401)." in ran.err
    assert "channel" not in ran.err  # no "for channel ''"


def test_check_help_does_not_claim_send_shows_the_channel_is_linked(run):
    text = run("check", "--help").out.replace("\n", " ")
    assert "'send' show" not in text and "does not check the channel" in text


# --- a wrong address --------------------------------------------------------------------


@pytest.mark.parametrize("typo", ("/api", "/v2", "/v1"))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_path_in_the_address_is_blamed_on_the_address_on_every_command(run, sandbox, command, typo):
    ran = run(command, "--channel", "mychannel", "--base-url", sandbox.url + typo, *_with_text(command))
    assert ran.code == cli.EXIT_ADDRESS, ran.err
    assert f"at {sandbox.url}{typo}" in ran.err and "(404)" in ran.err
    assert "Check --base-url: it is the host name alone" in ran.err
    for wrong in ("cannot find the channel", "plan", "rejected the API key", "captions"):
        assert wrong not in ran.err


def test_an_address_from_the_environment_is_named_as_such(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_BASE_URL, sandbox.url + "/api")
    ran = run("join", "--channel", "mychannel")
    assert ran.code == cli.EXIT_ADDRESS
    assert f"Check the {cli.ENV_BASE_URL} environment variable" in ran.err
    assert "--base-url" not in ran.err  # a flag the user never passed


def test_an_unusable_address_from_the_environment_names_the_variable_not_the_flag(run, monkeypatch):
    monkeypatch.setenv(cli.ENV_BASE_URL, "http://evil.example.com")
    ran = run("check")
    assert ran.code == cli.EXIT_USAGE
    assert f"Check the {cli.ENV_BASE_URL} environment variable (unset it" in ran.err
    assert "--base-url" not in ran.err


def test_a_channel_from_the_environment_is_named_as_such(run, sandbox, monkeypatch):
    monkeypatch.setenv(cli.ENV_CHANNEL, "someoneelse")
    ran = run("send", "--base-url", sandbox.url, "hello")
    assert ran.code == cli.EXIT_KEY_REJECTED
    assert f"check the channel name (the {cli.ENV_CHANNEL} environment variable)" in ran.err


@pytest.mark.parametrize("command", ("check", "send", "join", "listen"))
def test_a_closed_port_on_this_computer_is_not_the_internet(run, command):
    box = Sandbox(SandboxConfig(quiet=True)).start()
    url = box.url
    box.stop()
    ran = run(command, "--channel", "mychannel", "--base-url", url, *_with_text(command))
    assert ran.code == cli.EXIT_UNREACHABLE
    assert f"nothing answers at {url}" in ran.err and "internet" not in ran.err


# --- listen -------------------------------------------------------------------------------


def test_listen_prints_only_its_channel_and_says_when_every_event_was_for_another(run, sandbox):
    def speak():
        assert sandbox.wait_for_eventsub_streams(1, timeout=10)
        sandbox.say("Hello, mychannel")  # the sandbox streams the key's own channel, whatever was asked

    helper = threading.Thread(target=speak)
    helper.start()
    ran = run("listen", "--channel", "nosuchchan", "--base-url", sandbox.url, "--seconds", "3")
    helper.join()
    assert "Hello, mychannel" not in ran.out
    assert ran.code == cli.EXIT_CHANNEL_REFUSED
    assert "Heard 1 live event(s), none for #nosuchchan: they were for " in ran.err
    assert "Check the channel name (--channel)." in ran.err


@pytest.mark.parametrize("option, value", [("--seconds", "-1"), ("--seconds", "nan"), ("--count", "-2")])
def test_listen_refuses_a_negative_or_odd_limit_instead_of_running_forever(run, option, value):
    ran = run("listen", "--channel", "mychannel", option, value)
    assert ran.code == cli.EXIT_USAGE
    assert "must be 0 (never) or more" in ran.err


def test_listen_says_nothing_in_the_panels_words(run, sandbox):
    sandbox.set_faults(eventsub_forbidden=True)
    ran = run("listen", "--channel", "mychannel", "--base-url", sandbox.url, "--seconds", "10")
    assert ran.code == cli.EXIT_CHANNEL_REFUSED
    assert "Live events: ai_licia answered" not in ran.err  # the engine's log line stays out of the terminal


# --- what ai_licia answered ------------------------------------------------------------------


def test_a_trigger_that_gets_no_answer_says_the_reaction_may_still_happen(run, monkeypatch):
    monkeypatch.setattr(client_module, "READ_TIMEOUT_S", 0.5)  # 10 s in production: the same path, shorter
    server = SilentServer()
    try:
        ran = run("trigger", "--channel", "mychannel", "--base-url", server.url, "Hype!")
    finally:
        server.close()
    assert ran.code == cli.EXIT_UNREACHABLE
    assert "she may still react" in ran.err and "or she may react twice" in ran.err


@pytest.mark.parametrize("status", (400, 422))
def test_a_request_refused_as_invalid_has_its_own_exit_code_not_nothing_sent(run, status):
    with responses.RequestsMock() as mock:
        mock.post("https://api.example.test/v1/events", status=status)
        ran = run("send", "--channel", "mychannel", "--base-url", "https://api.example.test", "hello")
    assert ran.code == cli.EXIT_REFUSED_AS_INVALID != cli.EXIT_USAGE
    assert f"refused the context as invalid ({status})" in ran.err


def test_a_leave_refused_with_403_says_nothing_about_credits(run, sandbox):
    ran = run(*against(sandbox, "leave", channel="someoneelse"))
    assert ran.code == cli.EXIT_CHANNEL_REFUSED
    assert "not linked to this API key" in ran.err and "credits" not in ran.err


def test_emoji_over_the_limit_are_said_to_count_twice(run, sandbox):
    ran = run(*against(sandbox, "trigger")[:-1], "\U0001f600" * 151)
    assert ran.code == cli.EXIT_USAGE
    assert "302 characters long" in ran.err and "151 emoji or other symbol(s) count as two" in ran.err
    assert sandbox.requests == []


def test_a_link_to_another_site_is_not_a_twitch_channel(run, sandbox):
    ran = run(*against(sandbox, "join", channel="https://youtube.com/@name"))
    assert ran.code == cli.EXIT_USAGE
    assert "enter your Twitch channel name, or paste its twitch.tv link" in ran.err
    assert sandbox.requests == []


# --- the key never shows ----------------------------------------------------------------------


def test_the_key_in_the_address_path_is_masked_everywhere(run, sandbox):
    ran = run("check", "--base-url", f"{sandbox.url}/{KEY}")
    assert ran.code == cli.EXIT_ADDRESS
    assert "Checking the API key with ai_licia at" in ran.out and "***" in ran.out
    assert_readable(ran, KEY)


def test_a_key_the_app_grants_as_its_channel_is_masked(run):
    granted = "sk-9f8e7d6c5b4a3928170654"  # no words: its pieces are masked in everything printed after
    app = serve(api_key=granted, channel=granted, grant_delay_s=0.05)
    try:
        ran = run("connect", "--port", str(app.port), "--wait", "10")
    finally:
        app.stop()
    assert granted.lower() not in ran.text.lower()


# --- help ---------------------------------------------------------------------------------------


def test_the_top_level_help_names_the_environment_and_every_exit_code(run):
    text = run("--help").out
    for name in (cli.ENV_API_KEY, cli.ENV_CHANNEL, cli.ENV_BASE_URL):
        assert name in text
    for code, _ in cli.EXIT_CODES:
        assert f"\n  {code:<4} " in text
    assert "issue" not in text.lower()


def test_the_demo_help_describes_the_demo_it_plays(run):
    text = run("demo", "--help").out.replace("\n", " ")
    for part in ("Connect with ai_licia", "watched now-playing source", "another character", "live events"):
        assert part in " ".join(text.split())


def test_the_demo_without_websocket_client_says_so_in_words(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "websocket", None)  # as if not installed
    ran = run("demo", "--fast")
    assert ran.code == cli.EXIT_FAILED
    assert "needs the Python package 'websocket-client'" in ran.err
    assert "bug" not in ran.err and "Traceback" not in ran.text


def test_the_sandbox_dashboard_can_be_restarted_at_once_after_a_connect(run):
    app = serve(api_key="k-0123456789abc", channel="mychannel", grant_delay_s=0.05)
    port = app.port
    try:
        assert run("connect", "--port", str(port), "--wait", "10").code == cli.EXIT_OK
    finally:
        app.stop()  # the dashboard closed that connection first: its port now has a TIME_WAIT entry
    again = serve(api_key="k-0123456789abc", channel="mychannel", port=port)  # "Address already in use" before
    try:
        assert again.port == port
    finally:
        again.stop()
