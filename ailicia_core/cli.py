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
import os
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

from . import PRODUCT, __version__
from . import sandbox as sandbox_module
from .limits import (
    CONTEXT_MAX_CHARS,
    DEFAULT_BASE_URL,
    DEFAULT_EVENT_TYPE,
    GENERATION_MAX_CHARS,
    GENERATION_WINDOW_S,
    JOIN_SERVER_WAIT_S,
)
from .logsafe import redact
from .settings import Settings, parse_settings
from .text import api_length, clean_text

PROG = "python -m ailicia_core"
ENV_API_KEY = "AILICIA_API_KEY"
ENV_CHANNEL = "AILICIA_CHANNEL"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_KEY_REJECTED = 3
EXIT_CHANNEL_REFUSED = 4
EXIT_RATE_LIMITED = 5
EXIT_UNREACHABLE = 6
EXIT_JOIN_NOT_CONFIRMED = 7
EXIT_INTERRUPTED = 130

#: Every exit code and what it means: shown by ``--help``, documented in the README.
EXIT_CODES = (
    (EXIT_OK, "it worked"),
    (EXIT_FAILED, "something else went wrong (requests not installed, the demo did not go as planned)"),
    (EXIT_USAGE, "bad command or settings: no key or channel, http:// to another computer, text too long, "
                 "or ai_licia refused the request as invalid (400/422)"),
    (EXIT_KEY_REJECTED, "ai_licia rejected the API key (401)"),
    (EXIT_CHANNEL_REFUSED, "the channel is not linked to the key, not found, or has no subscription or "
                           "credits (403/404)"),
    (EXIT_RATE_LIMITED, "too many reactions: wait for the window and try again (429)"),
    (EXIT_UNREACHABLE, "no usable answer: network trouble, ai_licia's server failed (5xx), or an odd answer"),
    (EXIT_JOIN_NOT_CONFIRMED, "ai_licia did not confirm joining chat in time (she may still join)"),
    (EXIT_INTERRUPTED, "interrupted with Ctrl+C"),
)

_KEY_ADVICE = (f"Better: set the {ENV_API_KEY} environment variable instead of --api-key; a key typed on the "
               "command line stays in your shell history and other programs can see it.")
#: Help text is wrapped to the terminal, but never wider than this: long lines are hard to read.
HELP_MAX_WIDTH = 100

# The client's messages are written for the OBS panel, where the worker pauses and
# retries; a one-shot command does neither, so these sentences would mislead here.
_PANEL_ONLY_SENTENCES = (
    re.compile(r"\s*Sending is paused until the settings change\."),
    re.compile(r"\s*Retrying in \d+ s\."),
)


class CommandError(Exception):
    """A failure to report in plain words (``message``, optional ``hint``) with exit code ``code``."""

    def __init__(self, message: str, code: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint


# --- entry point ---------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns the exit code (never raises, never prints a traceback)."""
    _tolerate_unencodable_output()
    parser = build_parser()
    try:
        args = parser.parse_args(_with_default_command(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # --help, --version, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except CommandError as exc:
        _report(exc.message, exc.hint)
        return exc.code
    except KeyboardInterrupt:
        _report("Interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say, and no one to say it to
        _silence_stdout()
        return EXIT_FAILED
    except Exception as exc:  # a bug: say what it was in one line, keep the key out of it
        _report(f"Unexpected error ({type(exc).__name__}): {redact(str(exc))}",
                "This is a bug in ailicia-obs; please report it with the command you ran (not your key).")
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
        description=("ai_licia-obs from a terminal. With no command it plays the demo: a short stream session "
                     "against a local stand-in for ai_licia (no key, no OBS needed)."),
        epilog=_EXAMPLES + "\n\n" + _exit_codes_text(),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PRODUCT} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    connection = _connection_options()
    _add_check(commands, connection)
    _add_send(commands, connection)
    _add_trigger(commands, connection)
    _add_join(commands, connection)
    _add_leave(commands, connection)
    _add_sandbox(commands)
    from .cli_connect import add_connect  # issue 15: Connect with ai_licia

    add_connect(commands)
    return parser


_EXAMPLE_LINES = (
    (PROG, "the demo, no key needed"),
    (f"{PROG} connect", "get key and channel from the ai_licia app (issue 15)"),
    (f"export {ENV_API_KEY}=...", "your key, from the ai_licia dashboard"),
    (f"{PROG} check --channel mychannel", "does ai_licia accept the key?"),
    (f"{PROG} join --channel mychannel", "ask ai_licia into your chat"),
    (f"{PROG} COMMAND --help", "a command's options"),
)
_EXAMPLES = "examples:\n" + "\n".join(f"  {command:<50}{comment}" for command, comment in _EXAMPLE_LINES)


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps prose like argparse does, keeps indented lines (examples) as written, indents table rows."""

    def __init__(self, prog: str) -> None:
        width = min(HELP_MAX_WIDTH, shutil.get_terminal_size().columns) - 2
        super().__init__(prog, width=width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            row = re.match(r"(\s+\S+\s{2,})", line)  # "  2    meaning...": wrap under "meaning"
            if row and len(line) > width:
                hanging = " " * len(row.group(1))
                lines.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent + hanging))
            elif line.startswith(" ") or not line.strip():
                lines.append(indent + line)
            else:
                lines.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent))
        return "\n".join(lines)


def _exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


def _command(commands: Any, name: str, summary: str, description: str, run: Callable[[argparse.Namespace], int],
             parents: Sequence[argparse.ArgumentParser] = (), epilog: str = "") -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=description, parents=list(parents),
                                 epilog=epilog or None, formatter_class=_HelpFormatter)
    parser.set_defaults(run=run)
    return parser


# --- subcommands -----------------------------------------------------------------------


def _add_demo(commands: Any) -> None:
    parser = _command(
        commands, "demo", "play a short stream session against a local sandbox (the default)",
        ("Plays a short stream session through the same engine the OBS script uses: stream start, two scene "
         "switches, a source shown, a mic muted, three quick hotkey presses, stream stop. ai_licia's API is "
         "played by a local sandbox, so it needs no API key and no OBS. It prints what OBS did next to what "
         "ai_licia received, then the status as the OBS panel would show it."),
        _run_demo,
        epilog="exit codes: 0 the demo went as planned, 1 it did not (the output says where).",
    )
    parser.add_argument("--fast", action="store_true",
                        help="no pauses between steps for reading (for tests and the impatient)")


def _run_demo(args: argparse.Namespace) -> int:
    demo = _import_sending("demo")
    result = demo.run_demo(fast=args.fast)
    return EXIT_OK if result.ok else EXIT_FAILED


def _add_check(commands: Any, connection: argparse.ArgumentParser) -> None:
    _command(
        commands, "check", "test the API key (sends nothing to your stream)",
        ("Asks ai_licia for your characters (GET /v1/characters): it shows that the key works and the API "
         "can be reached, and has no effect on your stream. The API has no such harmless check for the "
         "channel: 'join' or 'send' show whether the channel is linked to the key."),
        _run_check, parents=[connection],
    )


def _run_check(args: argparse.Namespace) -> int:
    connection = _connection(args)
    _say(f"Checking the API key with ai_licia at {connection.settings.api_base_url}…")
    characters = connection.call(lambda client: client.list_characters())
    names = ", ".join(c.name + (" (active)" if c.is_active else "") for c in characters) or "none yet"
    _say(f"OK: ai_licia accepted the key. Characters: {names}.")
    _say(f"The channel #{connection.channel} is checked when something is sent to it "
         f"('{PROG} join' or 'send').")
    return EXIT_OK


def _add_send(commands: Any, connection: argparse.ArgumentParser) -> None:
    parser = _command(
        commands, "send", "add a line to ai_licia's context (she decides whether to react)",
        (f"Sends TEXT to ai_licia's context (POST /v1/events), as the OBS script does for a scene switch. "
         f"She weaves it into what she says; she is not forced to react. At most {CONTEXT_MAX_CHARS} "
         "characters."),
        _run_send, parents=[connection],
        epilog=f"example:\n  {PROG} send --channel mychannel 'Boss fight in 5 minutes, remind chat to hydrate'",
    )
    parser.add_argument("text", nargs="+", metavar="TEXT", help="what ai_licia should know (words are joined)")
    _add_event_type(parser)


def _run_send(args: argparse.Namespace) -> int:
    text = _text_within(args.text, CONTEXT_MAX_CHARS, "context")
    connection = _connection(args)
    connection.call(lambda client: client.send_context(text, event_type=args.event_type))
    _say(f"Sent to ai_licia's context for #{connection.channel}: \"{text}\"")
    return EXIT_OK


def _add_trigger(commands: Any, connection: argparse.ArgumentParser) -> None:
    parser = _command(
        commands, "trigger", "ask ai_licia to react now (about one per 25 s per key)",
        (f"Asks ai_licia to react right away to TEXT (POST /v1/events/generations), as a hotkey trigger in "
         f"OBS does. The API allows about one reaction per {GENERATION_WINDOW_S:g} s per API key; sooner "
         f"ones are refused (exit code {EXIT_RATE_LIMITED}). At most {GENERATION_MAX_CHARS} characters."),
        _run_trigger, parents=[connection],
        epilog=f"example:\n  {PROG} trigger --channel mychannel 'Hype up chat: we just beat the boss!'",
    )
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the prompt for ai_licia (words are joined)")
    _add_event_type(parser)


def _run_trigger(args: argparse.Namespace) -> int:
    text = _text_within(args.text, GENERATION_MAX_CHARS, "reaction prompt")
    connection = _connection(args)
    connection.call(lambda client: client.send_generation(text, event_type=args.event_type))
    _say(f"ai_licia was asked to react now in #{connection.channel}: \"{text}\"")
    return EXIT_OK


def _add_join(commands: Any, connection: argparse.ArgumentParser) -> None:
    _command(
        commands, "join", "ask ai_licia to join your chat (can take up to 10 s)",
        ("Asks ai_licia to join the channel's chat (POST /v1/streams/CHANNEL) and waits for her to confirm: "
         "up to 10 s. The channel must be linked to the key, and the account needs an active subscription "
         "or credits."),
        _run_join, parents=[connection],
    )


def _run_join(args: argparse.Namespace) -> int:
    connection = _connection(args)
    channel = connection.channel
    _say(f"Asking ai_licia to join #{channel}… (this can take up to {JOIN_SERVER_WAIT_S:g} s)")
    result = connection.call(lambda client: client.join())
    from .client import ALREADY_IN_CHAT, JOINED, TIMED_OUT  # importable: the call above needed it

    if result.outcome == JOINED:
        _say(f"ai_licia joined #{channel}'s chat.")
        return EXIT_OK
    if result.outcome == ALREADY_IN_CHAT:
        _say(f"ai_licia is already in #{channel}'s chat.")
        return EXIT_OK
    said = f" ai_licia said: \"{result.message}\"" if result.message else ""
    if result.outcome == TIMED_OUT:
        raise CommandError(f"ai_licia did not confirm joining #{channel} in time.{said}",
                           EXIT_JOIN_NOT_CONFIRMED, "She may still join in a moment; run 'join' again to check.")
    raise CommandError(f"ai_licia did not join #{channel}.{said}", EXIT_JOIN_NOT_CONFIRMED,
                       "Run 'join' again in a moment.")


def _add_leave(commands: Any, connection: argparse.ArgumentParser) -> None:
    _command(
        commands, "leave", "ask ai_licia to leave your chat",
        "Asks ai_licia to leave the channel's chat (DELETE /v1/streams/CHANNEL). She leaves shortly after.",
        _run_leave, parents=[connection],
    )


def _run_leave(args: argparse.Namespace) -> int:
    connection = _connection(args)
    connection.call(lambda client: client.leave())
    _say(f"ai_licia was asked to leave #{connection.channel}'s chat; she leaves in a moment.")
    return EXIT_OK


def _add_sandbox(commands: Any) -> None:
    parser = _command(
        commands, "sandbox", "serve a local stand-in for the ai_licia API (try OBS without credits)",
        ("Serves a local stand-in for the ai_licia API until Ctrl+C. Point the OBS script's API address at "
         "it to try your setup without spending credits; the fault switches rehearse what happens when the "
         "API has trouble. Every request is printed on one line (never the key)."),
        sandbox_module.run,
    )
    sandbox_module.add_arguments(parser)


# --- shared by the commands that call the API ------------------------------------------


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    group.add_argument("--api-key", metavar="KEY",
                       help=f"your ai_licia API key. Prefer the {ENV_API_KEY} environment variable (the "
                            "default): a key typed here stays in your shell history")
    group.add_argument("--channel", metavar="NAME",
                       help=f"your channel name or URL, e.g. mychannel (default: ${ENV_CHANNEL})")
    group.add_argument("--base-url", metavar="URL", default=DEFAULT_BASE_URL,
                       help="the API address (default: %(default)s); http:// only for this computer, "
                            "e.g. the sandbox")
    return options


def _add_event_type(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-type", metavar="LABEL", default=DEFAULT_EVENT_TYPE,
                        help="the eventType label sent with the text (default: %(default)s)")


@dataclass(frozen=True)
class Connection:
    """Checked settings for one command, and where the key came from (the 401 hint says which)."""

    settings: Settings
    key_source: str

    @property
    def channel(self) -> str:
        return self.settings.channel

    def call(self, request: Callable[[Any], Any]) -> Any:
        """``request(client)`` with a fresh client; an ``ApiError`` becomes a :class:`CommandError`."""
        client_module = _import_sending("client")
        from .errors import ApiError

        settings = self.settings
        client = client_module.ApiClient(base_url=settings.api_base_url, api_key=settings.api_key,
                                         channel=settings.channel)
        try:
            return request(client)
        except ApiError as exc:
            raise _command_error(exc, self) from None
        finally:
            client.close()


def _connection(args: argparse.Namespace) -> Connection:
    """Key, channel and address checked the way the OBS panel checks them; raises :class:`CommandError`."""
    if args.api_key is not None:
        _report(_KEY_ADVICE)
        key, key_source = args.api_key, "--api-key"
    else:
        key, key_source = os.environ.get(ENV_API_KEY, ""), f"the {ENV_API_KEY} environment variable"
    channel = args.channel if args.channel is not None else os.environ.get(ENV_CHANNEL, "")
    settings = parse_settings({"api_key": key, "channel": channel, "api_base_url": args.base_url})
    own_words = {
        "api_key": (f"No API key: set the {ENV_API_KEY} environment variable (or pass --api-key)."
                    if not key.strip() else None),
        "channel": f"No channel: pass --channel NAME (your channel name) or set {ENV_CHANNEL}.",
    }
    key_text = settings.api_key.reveal().lower()
    if len(key_text) >= 8 and key_text in settings.channel:  # shorter "keys" would match real channel names
        # Checked before any warning: those quote the channel, which here is the key.
        raise CommandError("The channel looks like your API key: pass your channel name with --channel "
                           f"(the key belongs in the {ENV_API_KEY} environment variable).", EXIT_USAGE)
    blocking = [p for p in settings.problems if p.blocking]
    if blocking:
        url_hint = (f"Check --base-url (leave it out to use {DEFAULT_BASE_URL})."
                    if any(p.key == "api_base_url" for p in blocking) else "")
        raise CommandError(" ".join(own_words.get(p.key) or p.message for p in blocking), EXIT_USAGE, url_hint)
    for problem in settings.problems:
        _report(f"Warning: {problem.message}")
    return Connection(settings, key_source)


def _text_within(words: Sequence[str], limit: int, what: str) -> str:
    text = clean_text(" ".join(words))
    if not text:
        raise CommandError(f"The {what} is empty.", EXIT_USAGE)
    length = api_length(text)
    if length > limit:
        raise CommandError(f"The {what} is {length} characters long; ai_licia accepts at most {limit}.",
                           EXIT_USAGE)
    return text


def _command_error(exc: Any, connection: Connection) -> CommandError:
    """The exit code for ``exc``, with a hint that adds what the message cannot know (never repeats it)."""
    from . import errors as err

    message = exc.message
    for sentence in _PANEL_ONLY_SENTENCES:
        message = sentence.sub("", message)
    if isinstance(exc, err.AuthError):
        return CommandError(message, EXIT_KEY_REJECTED, f"The key came from {connection.key_source}.")
    if isinstance(exc, (err.ForbiddenError, err.NotFoundError)):
        return CommandError(message, EXIT_CHANNEL_REFUSED)
    if isinstance(exc, err.RateLimitedError):
        wait = f"try again in {exc.retry_after:.0f} s" if exc.retry_after else "try again in a little while"
        return CommandError(message, EXIT_RATE_LIMITED,
                            f"ai_licia allows about one reaction per {GENERATION_WINDOW_S:g} s per key: {wait}.")
    if isinstance(exc, err.ContentRejectedError):
        return CommandError(message, EXIT_USAGE)
    return CommandError(message, EXIT_UNREACHABLE, f"API address: {connection.settings.api_base_url}")


def _import_sending(name: str) -> Any:
    """``ailicia_core.<name>``, which needs ``requests``: a missing install is explained, not a traceback."""
    try:
        if name == "demo":
            from . import demo as module
        else:
            from . import client as module
    except ModuleNotFoundError as exc:
        if exc.name != "requests":
            raise
        raise CommandError("This command needs the Python package 'requests', which is not installed.",
                           EXIT_FAILED, "Install it with:  python3 -m pip install requests   "
                                        "(or run 'bash scripts/demo', which sets everything up)") from None
    return module


# --- output ------------------------------------------------------------------------------


def _say(line: str) -> None:
    print(line, flush=True)


def _report(message: str, hint: str = "") -> None:
    print(redact(message), file=sys.stderr, flush=True)
    if hint:
        print(f"  {redact(hint)}", file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    # Python flushes stdout once more at exit; pointing it at devnull keeps that flush from
    # printing a second BrokenPipeError.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout without a file descriptor (tests)
        pass


def _tolerate_unencodable_output() -> None:
    # A console that cannot show a character (an emoji in a scene name, '…' on an old
    # Windows code page) must cost a '?', not a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass
