"""The demo end to end: the session reaches the in-process sandbox as the OBS script would send it."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ailicia_core import cli, demo
from ailicia_core import events as ev

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def played():
    """One fast demo for the whole module: (result, what it printed)."""
    out = io.StringIO()
    result = demo.run_demo(fast=True, out=out, width=100)
    return result, out.getvalue()


def contents(result, path):
    return [r.body["data"]["content"] for r in result.requests if r.path == path]


def test_the_demo_goes_as_planned(played):
    result, printed = played
    assert result.ok, result.problem + "\n" + printed
    assert all(r.status is not None and 200 <= r.status < 300 for r in result.requests)


def test_ai_licia_receives_the_session_in_order(played):
    result, _ = played
    calls = [(r.method, r.path) for r in result.requests]
    assert calls[0] == ("GET", "/v1/characters")
    assert calls[1] == ("POST", "/v1/streams/mychannel"), "she joins when the stream starts"
    assert calls[-1] == ("DELETE", "/v1/streams/mychannel"), "she leaves after hearing the stream ended"
    *context, ended = contents(result, "/v1/events")
    assert context == [
        "Stream started. On air: the 'Starting Soon' scene",
        "Streamer switched to the 'Gameplay' scene — Elden Ring, first attempt at the Margit boss fight",
        "Streamer switched to the 'Just Chatting' scene",
        "'Guest cam' is now shown on stream in the 'Just Chatting' scene",
        "Streamer muted their microphone ('Mic/Aux'): viewers cannot hear them right now",
        "Now playing: Lofi Chill Mix Vol 2",
        "Streamer switched to the 'Late Night' scene",
    ]
    assert re.fullmatch(r"Stream ended after \d+ s", ended)


def test_a_mapped_scene_makes_its_character_active_once(played):
    result, printed = played
    puts = [r.path for r in result.requests if r.method == "PUT"]
    assert puts == ["/v1/characters/char_456/active"]
    assert re.search(
        r"^Scene: 'Late Night' +\d+\.\d s  204  character PUT /v1/characters/char_456/active", printed, re.M
    )


def test_three_quick_presses_become_two_reactions_with_no_429(played):
    result, _ = played
    hype = "Something great just happened on stream: hype up chat with me!"
    roast = "I just failed spectacularly. Roast me gently."
    assert contents(result, "/v1/events/generations") == [hype, f"{roast} / {hype}"]
    assert 429 not in [r.status for r in result.requests]


def test_it_prints_what_obs_did_beside_what_ai_licia_received_and_the_status(played):
    result, printed = played
    assert re.search(r"^OBS did +ai_licia received$", printed, re.M)
    assert re.search(r"^Go live on 'Starting Soon' +\d+\.\d s  200  join ", printed, re.M)
    assert "held for the 3 s window, then sent together: no 429" in printed
    assert "ai_licia received 14 requests; 14 accepted, 0 refused as too many (429)." in printed
    assert "Status, as the OBS panel shows it:" in printed
    assert result.status_text.splitlines()[1].startswith("Connected: ai_licia accepted the key")
    assert "Not live. ai_licia was asked to leave chat." in result.status_text
    for line in result.status_text.splitlines():
        assert f"  {line}" in printed


def test_the_output_fits_the_terminal_and_has_no_colour_when_not_a_terminal(played):
    _, printed = played
    assert max(len(line) for line in printed.splitlines()) < 100
    assert not ANSI.search(printed)


def test_a_step_that_does_not_arrive_fails_the_demo_with_a_message(monkeypatch):
    monkeypatch.setattr(demo, "SESSION", (demo.Step("Say something", (ev.ManualContext("hello"),), expect=2),))
    monkeypatch.setattr(demo, "STEP_TIMEOUT_S", 0.5)
    out = io.StringIO()
    result = demo.run_demo(fast=True, out=out)
    assert not result.ok
    assert "'Say something'" in result.problem and "did not receive the 2 request(s)" in result.problem
    assert "The demo did not go as planned" in out.getvalue()


def test_demo_is_the_default_command(monkeypatch, capsys):
    monkeypatch.setattr(demo, "SESSION", demo.SESSION[:2])  # the default is what matters here, not the session
    assert cli.main(["--fast"]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "ai_licia-obs demo" in printed and "Go live on 'Starting Soon'" in printed


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])  # cp1252: an old Windows console, a redirect
def test_python_m_ailicia_core_plays_the_demo_in_a_real_process(encoding):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILICIA_")}
    env["COLUMNS"] = "100"
    env["PYTHONIOENCODING"] = encoding  # strict: a character it cannot show would raise
    process = subprocess.run(
        [sys.executable, "-m", "ailicia_core", "--fast"],
        cwd=ROOT,
        env=env,
        text=True,
        encoding=encoding,
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "ai_licia received 14 requests; 14 accepted" in process.stdout
    assert max(len(line) for line in process.stdout.splitlines()) < 100
    assert process.stderr == ""


def start_demo(*argv: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILICIA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "ailicia_core", "demo", *argv],
        cwd=ROOT,
        env=env,
        text=True,
        encoding="utf-8",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def default_sigint() -> None:
    # A runner that started us in the background (nohup, `cmd &`) passes SIGINT on ignored,
    # and Python then rightly keeps ignoring it; a terminal's Ctrl+C is what is tested here.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_demo_with_130_and_no_traceback():
    process = start_demo(preexec_fn=default_sigint)  # not --fast: it is still running when interrupted
    try:
        while not process.stdout.readline().startswith("OBS did"):
            pass
        process.send_signal(signal.SIGINT)
    finally:
        out, err = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert err == "Interrupted.\n"


def test_a_reader_that_goes_away_ends_the_demo_quietly():
    process = start_demo("--fast")
    try:
        process.stdout.readline()
        process.stdout.close()  # like `| head -1`
    finally:
        process.wait(timeout=30)
        err = process.stderr.read()
        process.stderr.close()
    assert process.returncode == cli.EXIT_FAILED
    assert err == ""


def test_the_demo_starts_with_connect_with_ai_licia_and_needs_no_key(played):
    result, printed = played
    assert printed.index("Panel: Connect with ai_licia") < printed.index("Panel: Test connection")
    assert "Connected as mychannel via the ai_licia app." in printed
    assert result.status_text.splitlines()[0] == "Connected as mychannel via the ai_licia app."
    assert {"api_key", "channel"}.isdisjoint(demo.unconnected_settings("http://127.0.0.1:1", 2))
    assert demo.DEFAULT_API_KEY not in printed


def test_the_final_status_names_the_character_the_demo_switched_to(played):
    result, printed = played
    assert "Active character: Cozy Willow." in result.status_text
    assert "Captain Vibes (active)" not in result.status_text and "active: Captain Vibes" not in result.status_text
    assert "Cozy Willow (active)" in result.status_text


def test_the_next_steps_do_not_present_connect_as_the_way_to_get_a_key(played):
    _, printed = played
    ending = printed[printed.index("Next:") :]
    assert "Connect with ai_licia' in its panel" in ending and "python -m ailicia_core connect" not in ending
