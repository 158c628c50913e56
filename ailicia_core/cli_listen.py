"""``python -m ailicia_core listen``: print ai_licia's live events (EventSub) as they come.

Useful to check what a key's plan includes and what ai_licia says, without OBS.
It uses the same :class:`~ailicia_core.listener.EventSubListener` as the OBS
script (same reconnecting, same dedupe) and prints one line per event; with a
channel, only that channel's. Exit codes follow :data:`ailicia_core.cli.EXIT_CODES`:
0 after ``--count`` events or ``--seconds``, 3 for a rejected key, 4 when the plan
has no live events or every event heard was for another channel, 8 when the
address has no live events (404), 6 when the first connection cannot be made,
130 on Ctrl+C.

Registered by :func:`ailicia_core.cli.build_parser` through :func:`add_listen`.
"""

from __future__ import annotations

import argparse
import queue
import random
import socket
import time
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlsplit

from . import cli_support as support
from .error_words import LIVE_EVENTS, explain, explain_live, on_this_computer
from .logsafe import redact
from .text import abbreviate

#: Events waiting to be printed; beyond this the newest are dropped (a terminal cannot fall that far behind).
PRINT_BACKLOG = 1000
#: How long stopping the listener may take when the command ends.
STOP_TIMEOUT_S = 1.5


def add_listen(commands: Any, connection: argparse.ArgumentParser) -> None:
    """Add the ``listen`` subcommand to ``commands`` (argparse subparsers)."""
    parser = support.add_command(
        commands,
        "listen",
        "print ai_licia's live events: what she says, joins, leaves, character changes",
        (
            "Connects to ai_licia's live events (GET /v1/eventsub/stream) and prints each one: what she says in "
            "chat, when she joins or leaves, character changes, the stream going live or offline. It sends "
            "nothing. If the connection drops it reconnects, as the OBS script does. Only the events of the "
            f"channel (--channel or ${support.ENV_CHANNEL}) are printed; when every event heard was for another "
            f"channel, or the plan has no live events, the exit code is {support.EXIT_CHANNEL_REFUSED}."
        ),
        run_listen,
        parents=[connection],
    )
    parser.add_argument(
        "--count", type=_at_least_zero(int), default=0, metavar="N", help="stop after N events (0: never)"
    )
    parser.add_argument(
        "--seconds", type=_at_least_zero(float), default=0.0, metavar="S", help="stop after S seconds (0: never)"
    )


def _at_least_zero(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value >= 0 or value == float("inf"):  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be 0 (never) or more, not {text}")
        return value

    return parse


def run_listen(args: argparse.Namespace) -> int:
    from .listener import CONNECTED, HALTED, RETRYING, EventSubListener

    connection = support.checked_connection(args)
    channel = connection.channel
    heard: queue.Queue = queue.Queue(maxsize=PRINT_BACKLOG)
    others: Dict[str, int] = {}

    def keep(envelope: Any) -> None:
        theirs = str(getattr(envelope, "channel", "") or "").lower()
        if theirs and theirs != channel:  # a key that controls several channels hears them all
            others[theirs] = others.get(theirs, 0) + 1  # one thread writes; read after it stopped
            return
        try:
            heard.put_nowait(envelope)
        except queue.Full:
            pass

    listener = EventSubListener(connection.settings, on_envelope=keep, rng=random.random)
    support.say(f"Listening to ai_licia's live events for #{channel} (Ctrl+C to stop)…")
    deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
    printed, connected_once, last_state = 0, False, ""
    listener.start()
    try:
        while deadline is None or time.monotonic() < deadline:
            state = listener.state.state
            if state != last_state:
                last_state = state
                connected_once = connected_once or state == CONNECTED
                _say_state(state, listener.state.retry_at)
            if state in HALTED:
                words = explain_live(state, connection.settings.api_base_url, connection.origins)
                raise support.CommandError(words.message, words.exit_code, words.advice)
            if state == RETRYING and not connected_once:
                raise _first_connection_failed(connection)
            envelope = _next(heard, deadline)
            if envelope is not None:
                support.say(describe(envelope))
                printed += 1
                if args.count and printed >= args.count:
                    break
    finally:
        listener.stop(STOP_TIMEOUT_S)
    # The listener may drop other channels' events itself and only count them: either count tells.
    elsewhere = max(sum(others.values()), int(getattr(listener.state, "other_channel", 0) or 0))
    if not printed and elsewhere:
        names = ", ".join(f"#{abbreviate(n, 40)}" for n in sorted(others)[:5]) or "other channels of this key"
        raise support.CommandError(
            f"Heard {elsewhere} live event(s), none for #{channel}: they were for {names}.",
            support.EXIT_CHANNEL_REFUSED,
            f"Check the channel name ({connection.origins.channel}).",
        )
    return support.EXIT_OK


def _first_connection_failed(connection: Any) -> support.CommandError:
    """The words when the first connection failed: a closed port on this computer is said as such."""
    address = connection.settings.api_base_url
    if on_this_computer(address) and _nothing_listens(address):
        words = explain("unreachable:loopback", what=LIVE_EVENTS, address=address, origins=connection.origins)
        return support.CommandError(words.message, words.exit_code, words.advice)
    return support.CommandError(
        "Could not connect to ai_licia's live events.",
        support.EXIT_UNREACHABLE,
        f"Check the internet connection and {connection.origins.address} (now {address}).",
    )


def _nothing_listens(address: str) -> bool:
    """True when a loopback address's port refuses connections (asked once, bounded)."""
    parts = urlsplit(address)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _next(heard: queue.Queue, deadline: Optional[float]) -> Any:
    wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
    try:
        return heard.get(timeout=wait)
    except queue.Empty:
        return None


def _say_state(state: str, retry_at: Optional[float]) -> None:
    if state == "connected":
        support.say("Connected: waiting for events.")
    elif state == "retrying" and retry_at is not None:
        support.say(f"Connection lost; trying again in {max(0.0, retry_at - time.monotonic()):.0f} s.")


def describe(envelope: Any) -> str:
    """One terminal line for an envelope: the time, the type, what it says (cleaned, cut)."""
    payload = envelope.payload
    clock = time.strftime("%H:%M:%S")
    if envelope.type == "chat.ai_message":
        who = abbreviate(str(payload.get("username") or "ai_licia"), 40)
        what = f'{who} said: "{abbreviate(str(payload.get("message") or ""), 300)}"'
    elif envelope.type == "system.join":
        what = "ai_licia joined chat"
    elif envelope.type == "system.left":
        what = "ai_licia left chat"
    elif envelope.type == "character.updated":
        what = f"active character: {abbreviate(str(payload.get('displayName') or ''), 60)}"
    elif envelope.type in ("channel.go_live", "channel.go_offline"):
        what = "the stream went " + ("live" if envelope.type.endswith("live") else "offline")
    else:
        what = abbreviate(str(dict(payload)), 120)
    return redact(f"{clock}  {abbreviate(envelope.type, 30):<18} {what}")
