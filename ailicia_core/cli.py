"""The command line: ``python -m ailicia_core [demo|check|send|trigger|join|leave|sandbox]``.

``demo`` (the default) plays a short stream against a local sandbox and needs no
key. The other commands talk to the real API (or ``--base-url``) with one
:class:`~ailicia_core.client.ApiClient` call each, so a streamer can test a key and
channel from a terminal. ``sandbox`` serves the local stand-in API.

Errors are printed as plain sentences (never a traceback, never the key) and the
exit code says what went wrong; see :data:`EXIT_CODES`. ``requests`` is imported
only by the commands that send, so ``--help`` and ``sandbox`` work without it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional, Sequence

from . import PRODUCT, __version__
from . import sandbox as sandbox_module
from .cli_connect import add_connect
from .cli_listen import add_listen
from .cli_support import (  # noqa: F401  (the exit codes and names stay importable from here)
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_CHANNEL,
    ENVIRONMENT,
    EVENT_TYPE_MAX_CHARS,
    EXIT_ADDRESS,
    EXIT_CHANNEL_REFUSED,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_JOIN_NOT_CONFIRMED,
    EXIT_KEY_REJECTED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_REFUSED_AS_INVALID,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    HELP_MAX_WIDTH,
    KEY_ADVICE,
    CommandError,
    Connection,
    HelpFormatter,
    add_command,
    add_event_type,
    check_event_type,
    checked_connection,
    connection_options,
    exit_codes_text,
    import_sending,
    missing_package,
    quiet_engine_log,
    report,
    say,
    silence_stdout,
    text_within,
    tolerate_unencodable_output,
)
from .limits import (
    CONTEXT_MAX_CHARS,
    GENERATION_MAX_CHARS,
    GENERATION_WINDOW_S,
    JOIN_SERVER_WAIT_S,
)
from .logsafe import redact
from .retry_policy import JOIN_WAIT_S

PROG = "python -m ailicia_core"
# --- entry point ---------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns the exit code (never raises, never prints a traceback)."""
    tolerate_unencodable_output()
    quiet_engine_log()
    parser = build_parser()
    try:
        args = parser.parse_args(_with_default_command(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # --help, --version, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except CommandError as exc:
        report(exc.message, exc.hint)
        return exc.code
    except KeyboardInterrupt:
        report("Interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say, and no one to say it to
        silence_stdout()
        return EXIT_FAILED
    except Exception as exc:  # a bug: say what it was in one line, keep the key out of it
        report(
            f"Unexpected error ({type(exc).__name__}): {redact(str(exc))}",
            "This is a bug in ailicia-obs; please report it with the command you ran (not your key).",
        )
        return EXIT_FAILED


def _with_default_command(argv: List[str]) -> List[str]:
    """``argv`` with ``demo`` in front when no command is named (``--fast`` alone means ``demo --fast``)."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["demo", *argv]
    return argv


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand; each one's ``run`` default is the function that carries it out."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "ai_licia-obs from a terminal. With no command it plays the demo: a short stream session "
            "against a local stand-in for ai_licia (no key, no OBS needed)."
        ),
        epilog=_EXAMPLES + "\n\n" + _ENVIRONMENT + "\n\n" + exit_codes_text(),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PRODUCT} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    connection = connection_options()
    _add_check(commands, connection)
    _add_send(commands, connection)
    _add_trigger(commands, connection)
    _add_join(commands, connection)
    _add_leave(commands, connection)
    add_listen(commands, connection)
    _add_sandbox(commands)
    add_connect(commands)
    return parser


_EXAMPLE_LINES = (
    (PROG, "the demo, no key needed"),
    (f"{PROG} connect", "get the key and channel from the ai_licia app"),
    (f"export {ENV_API_KEY}=...", "your key, from the ai_licia dashboard"),
    (f"{PROG} check", "does ai_licia accept the key?"),
    (f"{PROG} join --channel mychannel", "ask ai_licia into your chat"),
    (f"{PROG} COMMAND --help", "a command's options"),
)
_EXAMPLES = "examples:\n" + "\n".join(f"  {command:<50}{comment}" for command, comment in _EXAMPLE_LINES)
_ENVIRONMENT = "environment:\n" + "\n".join(f"  {name:<18}{meaning}" for name, meaning in ENVIRONMENT)


# --- subcommands -----------------------------------------------------------------------


def _add_demo(commands: Any) -> None:
    parser = add_command(
        commands,
        "demo",
        "play a short stream session against a local sandbox (the default)",
        (
            "Plays a short stream session through the same engine the OBS script uses, against a local sandbox "
            "that plays ai_licia's API and the ai_licia app, so it needs no API key and no OBS. It connects the way "
            "the panel's 'Connect with ai_licia' button does (the demo clicks Allow), tests the connection, goes "
            "live, switches scenes, shows a source, mutes a mic, presses reaction hotkeys three times, reads a "
            "watched now-playing source, switches to a scene mapped to another character, and stops the stream. "
            "It prints what OBS did next to what ai_licia received, what ai_licia said back over her live "
            "events, then the status as the OBS panel would show it. Needs the packages requests and "
            "websocket-client ('bash scripts/demo' sets them up)."
        ),
        _run_demo,
        epilog="exit codes: 0 the demo went as planned, 1 it did not (the output says where).",
    )
    parser.add_argument(
        "--fast", action="store_true", help="no pauses between steps for reading (for tests and the impatient)"
    )


def _run_demo(args: argparse.Namespace) -> int:
    demo = import_sending("demo")
    try:
        result = demo.run_demo(fast=args.fast)
    except ModuleNotFoundError as exc:  # websocket-client, imported when the demo's app starts
        raise missing_package(exc) from None
    return EXIT_OK if result.ok else EXIT_FAILED


def _add_check(commands: Any, connection: argparse.ArgumentParser) -> None:
    add_command(
        commands,
        "check",
        "test the API key (sends nothing to your stream)",
        (
            "Asks ai_licia for your characters (GET /v1/characters): it shows that the key works and the API "
            "can be reached, and has no effect on your stream. It does not check the channel (it needs none): "
            "the API has no harmless check for that. Once the key passes here, a 'join' refused with exit code "
            f"{EXIT_KEY_REJECTED} or {EXIT_CHANNEL_REFUSED} means the channel is not one the key controls."
        ),
        _run_check,
        parents=[connection],
    )


def _run_check(args: argparse.Namespace) -> int:
    connection = checked_connection(args, needs_channel=False)
    say(f"Checking the API key with ai_licia at {connection.settings.api_base_url}…")
    characters = connection.call(lambda client: client.list_characters())
    names = ", ".join(c.name + (" (active)" if c.is_active else "") for c in characters) or "none yet"
    say(f"OK: ai_licia accepted the key. Characters: {names}.")
    if connection.channel:
        say(
            f"The channel #{connection.channel} is not checked here (the API has no harmless check for it): "
            f"now that the key works, a refused '{PROG} join' means the key does not control that channel."
        )
    return EXIT_OK


def _add_send(commands: Any, connection: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "send",
        "add a line to ai_licia's context (she decides whether to react)",
        (
            f"Sends TEXT to ai_licia's context (POST /v1/events), as the OBS script does for a scene switch. "
            f"She weaves it into what she says; she is not forced to react. At most {CONTEXT_MAX_CHARS} "
            "characters."
        ),
        _run_send,
        parents=[connection],
        epilog=f"example:\n  {PROG} send --channel mychannel 'Boss fight in 5 minutes, remind chat to hydrate'",
    )
    parser.add_argument("text", nargs="+", metavar="TEXT", help="what ai_licia should know (words are joined)")
    add_event_type(parser)


def _run_send(args: argparse.Namespace) -> int:
    text = text_within(args.text, CONTEXT_MAX_CHARS, "context")
    check_event_type(args.event_type)
    connection = checked_connection(args)
    connection.call(lambda client: client.send_context(text, event_type=args.event_type))
    say(f'Sent to ai_licia\'s context for #{connection.channel}: "{text}"')
    return EXIT_OK


def _add_trigger(commands: Any, connection: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "trigger",
        "ask ai_licia to react now (about one per 25 s per key)",
        (
            f"Asks ai_licia to react right away to TEXT (POST /v1/events/generations), as a hotkey trigger in "
            f"OBS does. The API allows about one reaction per {GENERATION_WINDOW_S:g} s per API key; sooner "
            f"ones are refused (exit code {EXIT_RATE_LIMITED}). At most {GENERATION_MAX_CHARS} characters."
        ),
        _run_trigger,
        parents=[connection],
        epilog=f"example:\n  {PROG} trigger --channel mychannel 'Hype up chat: we just beat the boss!'",
    )
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the prompt for ai_licia (words are joined)")
    add_event_type(parser)


def _run_trigger(args: argparse.Namespace) -> int:
    text = text_within(args.text, GENERATION_MAX_CHARS, "reaction prompt")
    check_event_type(args.event_type)
    connection = checked_connection(args)
    connection.call(lambda client: client.send_generation(text, event_type=args.event_type))
    say(f'ai_licia was asked to react now in #{connection.channel}: "{text}"')
    return EXIT_OK


def _add_join(commands: Any, connection: argparse.ArgumentParser) -> None:
    add_command(
        commands,
        "join",
        f"ask ai_licia to join your chat (waits up to {JOIN_WAIT_S:g} s)",
        (
            "Asks ai_licia to join the channel's chat (POST /v1/streams/CHANNEL) and waits for her to confirm: "
            f"ai_licia takes up to {JOIN_SERVER_WAIT_S:g} s, and the command gives up after {JOIN_WAIT_S:g} s "
            f"without an answer (exit code {EXIT_JOIN_NOT_CONFIRMED}). The channel must be linked to the key, and "
            "the account needs an active subscription or credits."
        ),
        _run_join,
        parents=[connection],
    )


def _run_join(args: argparse.Namespace) -> int:
    connection = checked_connection(args)
    channel = connection.channel
    say(f"Asking ai_licia to join #{channel}… (this can take up to {JOIN_WAIT_S:g} s)")
    try:
        result = connection.call(lambda client: client.join(timeout=JOIN_WAIT_S))
    except CommandError as exc:
        if exc.reason != "read_timeout":
            raise
        raise CommandError(
            f"ai_licia did not answer the join for #{channel} within {JOIN_WAIT_S:g} s.",
            EXIT_JOIN_NOT_CONFIRMED,
            "She may still join in a moment; run 'join' again to check.",
        ) from None
    from .client import ALREADY_IN_CHAT, JOINED, TIMED_OUT  # importable: the call above needed it

    if result.outcome == JOINED:
        say(f"ai_licia joined #{channel}'s chat.")
        return EXIT_OK
    if result.outcome == ALREADY_IN_CHAT:
        say(f"ai_licia is already in #{channel}'s chat.")
        return EXIT_OK
    said = f' ai_licia said: "{result.message}"' if result.message else ""
    if result.outcome == TIMED_OUT:
        raise CommandError(
            f"ai_licia did not confirm joining #{channel} in time.{said}",
            EXIT_JOIN_NOT_CONFIRMED,
            "She may still join in a moment; run 'join' again to check.",
        )
    raise CommandError(
        f"ai_licia did not join #{channel}.{said}", EXIT_JOIN_NOT_CONFIRMED, "Run 'join' again in a moment."
    )


def _add_leave(commands: Any, connection: argparse.ArgumentParser) -> None:
    add_command(
        commands,
        "leave",
        "ask ai_licia to leave your chat",
        "Asks ai_licia to leave the channel's chat (DELETE /v1/streams/CHANNEL). She leaves shortly after.",
        _run_leave,
        parents=[connection],
    )


def _run_leave(args: argparse.Namespace) -> int:
    connection = checked_connection(args)
    connection.call(lambda client: client.leave())
    say(f"ai_licia was asked to leave #{connection.channel}'s chat; she leaves in a moment.")
    return EXIT_OK


def _add_sandbox(commands: Any) -> None:
    parser = add_command(
        commands,
        "sandbox",
        "serve a local stand-in for the ai_licia API (try OBS without credits)",
        (
            "Serves a local stand-in for the ai_licia API until Ctrl+C. Point the OBS script's API address at "
            "it to try your setup without spending credits; the fault switches rehearse what happens when the "
            "API has trouble. Every request is printed on one line (never the key)."
        ),
        sandbox_module.run,
    )
    sandbox_module.add_arguments(parser)
