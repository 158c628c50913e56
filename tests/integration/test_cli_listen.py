"""``python -m ailicia_core listen`` against the sandbox: printed events and exit codes."""

from __future__ import annotations

import threading

import pytest

from ailicia_core import cli
from ailicia_core.sandbox import Sandbox, SandboxConfig
from tests.integration.test_cli import environment  # noqa: F401 (autouse: the sandbox's key in the environment)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True)).start()
    yield box
    box.stop()


def listen(sandbox, *extra):
    return cli.main(["listen", "--channel", "mychannel", "--base-url", sandbox.url, *extra])


def test_prints_what_ai_licia_says_and_does_then_exits_0(sandbox, capsys):
    def speak():
        assert sandbox.wait_for_eventsub_streams(1, timeout=10)
        sandbox.say("Hello from the sandbox")
        sandbox.push_event("character.updated", {"characterId": "char_456", "displayName": "Cozy Willow"})
        sandbox.remove_from_chat()

    helper = threading.Thread(target=speak)
    helper.start()
    code = listen(sandbox, "--count", "3", "--seconds", "20")
    helper.join()
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out
    assert 'chat.ai_message    ai_licia said: "Hello from the sandbox"' in out
    assert "active character: Cozy Willow" in out
    assert "ai_licia left chat" in out


def test_seconds_ends_a_quiet_listen_with_0(sandbox, capsys):
    assert listen(sandbox, "--seconds", "0.5") == cli.EXIT_OK
    assert "Listening to ai_licia's live events for #mychannel" in capsys.readouterr().out


def test_plan_without_live_events_is_exit_4(sandbox, capsys):
    sandbox.set_faults(eventsub_forbidden=True)
    assert listen(sandbox, "--seconds", "10") == cli.EXIT_CHANNEL_REFUSED
    assert "Your ai_licia plan doesn't include live events (403)." in capsys.readouterr().err


def test_rejected_key_is_exit_3_and_never_printed(sandbox, capsys, monkeypatch):
    monkeypatch.setenv(cli.ENV_API_KEY, "wrong-key-7f3a9c51")
    assert listen(sandbox, "--seconds", "10") == cli.EXIT_KEY_REJECTED
    captured = capsys.readouterr()
    assert "wrong-key-7f3a9c51" not in captured.out + captured.err


def test_unreachable_is_exit_6(capsys):
    box = Sandbox(SandboxConfig(quiet=True)).start()
    url = box.url
    box.stop()
    assert cli.main(["listen", "--channel", "mychannel", "--base-url", url, "--seconds", "10"]) == cli.EXIT_UNREACHABLE


def test_listen_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["listen", "--help"])
    assert "GET /v1/eventsub/stream" in capsys.readouterr().out
