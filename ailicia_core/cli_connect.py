"""``python -m ailicia_core connect``: Connect with ai_licia from a terminal.

Runs the same flow as the OBS panel's button (:class:`~ailicia_core.connect_runner.ConnectRunner`):
asks the ai_licia app on this computer for the key and channel, waits (bounded,
stated) for the streamer to click Allow, and prints the channel. The key is never
printed and not kept: the command proves the flow works; the OBS panel's button
is what saves the key, for the script.

Exit codes (the table in :mod:`ailicia_core.cli`): 0 granted; 1 declined, not
signed in, no click in time, the app refused the request, websocket-client
missing; 2 a bad option; 5 the app asks to wait (``rate_limited``) or already
shows a request (``request_pending``); 6 no usable answer (no app listening,
something else on the port, the connection dropped, an odd answer); 130 Ctrl+C.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import connect as c
from .cli_support import (
    ENV_API_KEY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_UNREACHABLE,
    CommandError,
    add_command,
    say,
)
from .connect_runner import ConnectRunner
from .logsafe import register_secret
from .sandbox.cli import parse_seconds

#: Outcome -> (what happened, what to do, exit code). Details (reason, code) are added where they matter.
_FAILURES = {
    c.NO_APP: (
        "Nothing answers on port {port}: the ai_licia app is not running on this computer.",
        "Open the ai_licia app and sign in, then run this again.",
        EXIT_UNREACHABLE,
    ),
    c.NOT_THE_APP: (
        "Something other than the ai_licia app answers on port {port}.",
        "Check the app's port and pass it with --port.",
        EXIT_UNREACHABLE,
    ),
    c.DROPPED: ("The ai_licia app closed the connection before answering.", "Run this again.", EXIT_UNREACHABLE),
    c.ODD_ANSWER: (
        "The ai_licia app's answer could not be used.",
        "Run this again, or use the key from the ai_licia dashboard.",
        EXIT_UNREACHABLE,
    ),
    c.SIGNED_OUT: (
        "The ai_licia app is open but not ready (not signed in, or the key is not loaded yet).",
        "Sign in to the app, wait for the dashboard, then run this again.",
        EXIT_FAILED,
    ),
    c.TIMED_OUT: ("Nobody clicked Allow in the ai_licia app within {wait:g} s.", "Run this again.", EXIT_FAILED),
    c.NO_LIBRARY: (
        "This command needs the Python package 'websocket-client', which is not installed.",
        "Install it with:  python3 -m pip install websocket-client",
        EXIT_FAILED,
    ),
}
_DENIALS = {
    "user_denied": "You declined in the ai_licia app.",
    "timeout": "The ai_licia app stopped waiting for your answer.",
    "not_ready": "The ai_licia app was not ready (not signed in, or the key is not loaded yet).",
}
_WAIT_CODES = {
    "rate_limited": ("The ai_licia app asks to wait a little before asking again.", "Run this again in a minute."),
    "request_pending": (
        "The ai_licia app is already showing a request from ai_licia-obs.",
        "Answer it in the app (Allow or Deny).",
    ),
}


def add_connect(commands: Any) -> None:
    """Register the ``connect`` subcommand."""
    parser = add_command(
        commands,
        "connect",
        "get your API key and channel from the ai_licia app (click Allow there)",
        (
            "Asks the ai_licia app on this computer for access, as the OBS panel's 'Connect with ai_licia' button "
            f"does: the app shows '{c.DISPLAY_NAME}' and you click Allow. Prints the channel it granted. It shows "
            "that the app and ai_licia-obs work together; the key is never printed and not kept (the OBS "
            f"panel's button saves it for the script). Waits up to {c.CONSENT_WAIT_S:g} s for your click."
        ),
        run_connect,
        epilog=(
            "exit codes: 0 connected; 1 declined, not signed in, no click in time, or refused; 5 the app asks "
            "to wait or already shows a request; 6 no app answering (or something else on the port)."
        ),
    )
    parser.add_argument(
        "--port",
        type=_app_port,
        default=c.DEFAULT_APP_PORT,
        help="the ai_licia app's local port (default: %(default)s)",
    )
    parser.add_argument(
        "--wait",
        type=parse_seconds,
        default=c.CONSENT_WAIT_S,
        metavar="SECONDS",
        help="how long to wait for your click (default: %(default)g)",
    )


def _app_port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 1..65535")
    return value


def run_connect(args: argparse.Namespace) -> int:
    runner = ConnectRunner(wait_s=args.wait)
    try:
        runner.start(args.port)
        say(
            f"Asking the ai_licia app on this computer (port {args.port})… click Allow in the app "
            f"(waiting up to {args.wait:g} s)."
        )
        state = runner.state()
        while state.running:  # short waits, so Ctrl+C is noticed everywhere
            state = runner.wait(0.5)
        grant = runner.take_grant()
    finally:
        runner.stop(1.0)
    if state.phase == c.GRANTED and grant is not None:
        register_secret(grant.api_key.reveal())  # the channel printed below could hold it
        say(f"Connected as {grant.channel} via the ai_licia app: the app works with ai_licia-obs.")
        say(
            "The key it granted was NOT kept: the command line has nowhere to save it and never shows it. "
            "To use the app's key, click 'Connect with ai_licia' in the OBS script's panel (it saves the key "
            f"there); for these commands, set {ENV_API_KEY} to a key from your ai_licia dashboard."
        )
        return EXIT_OK
    raise _failure(state)


def _failure(state: c.ConnectState) -> CommandError:
    detail = state.detail or "no reason given"
    if state.outcome == c.DENIED:
        return CommandError(
            _DENIALS.get(detail, f"The ai_licia app declined ({detail})."),
            EXIT_FAILED,
            "Run this again and click Allow, or use the key from the dashboard.",
        )
    if state.outcome == c.APP_ERROR:
        if detail in _WAIT_CODES:
            message, hint = _WAIT_CODES[detail]
            return CommandError(message, EXIT_RATE_LIMITED, hint)
        return CommandError(
            f"The ai_licia app refused the request ({detail}).",
            EXIT_FAILED,
            "Check that ai_licia-obs and the app are up to date, or use the key from the dashboard.",
        )
    message, hint, code = _FAILURES.get(
        state.outcome, ("Connect with ai_licia did not finish.", "Run this again.", EXIT_FAILED)
    )
    return CommandError(message.format(port=state.port, wait=state.wait_s), code, hint)
