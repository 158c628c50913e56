"""``python -m ailicia_core connect`` against the sandbox's dashboard: the channel printed, never the key."""

import socket

import pytest

from ailicia_core.cli import main
from ailicia_core.sandbox.dashboard import serve

KEY = "sk-Cli-Granted-0123456789abcdef"


@pytest.fixture
def dashboard():
    app = serve(api_key=KEY, channel="MyChannel", grant_delay_s=0.05)
    yield app
    app.stop()


def connect(capsys, port, *more):
    code = main(["connect", "--port", str(port), *more])
    out, err = capsys.readouterr()
    assert KEY.lower() not in (out + err).lower()
    return code, out, err


def test_granted_prints_the_channel_only(capsys, dashboard):
    code, out, err = connect(capsys, dashboard.port)
    assert code == 0
    assert "Connected as mychannel via the ai_licia app" in out
    assert "The key it granted was NOT kept" in out  # said plainly: nothing was saved anywhere
    assert err == ""


@pytest.mark.parametrize(
    "fault, code, words",
    [
        ("deny", 1, "You declined in the ai_licia app."),
        ("signed_out", 1, "not ready"),
        ("rate_limited", 5, "asks to wait a little"),
        ("drop", 6, "closed the connection before answering"),
        ("no_answer", 1, "Nobody clicked Allow in the ai_licia app within 0.5 s."),
    ],
)
def test_each_fault_has_words_and_an_exit_code(capsys, dashboard, fault, code, words):
    dashboard.set_fault(fault)
    got, _, err = connect(capsys, dashboard.port, "--wait", "0.5")
    assert got == code
    assert words in err


def test_no_app_is_exit_6_with_the_advice(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = connect(capsys, port)
    assert code == 6
    assert "Open the ai_licia app and sign in, then run this again." in err


def test_a_bad_port_is_a_usage_error(capsys):
    assert main(["connect", "--port", "70000"]) == 2
