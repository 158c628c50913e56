"""The command line's plumbing: exit codes, checked connections, the terminal's words, output.

:mod:`ailicia_core.cli` defines the commands; this module holds what they share:
:class:`Connection` (key, channel and address checked the way the OBS panel checks
them, and where each came from), :func:`_command_error` (the sentence and exit code for an
API error, from the one table in :mod:`ailicia_core.error_words`, naming the flag or
environment variable the user actually used),
the checks that refuse bad input with exit code 2 before anything is sent, and
output that never shows the key.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Tuple

from . import errors as err
from .error_words import (  # noqa: F401 (the exit codes are the command line's: importable from here)
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
    Origins,
    explain_error,
)
from .limits import DEFAULT_BASE_URL, DEFAULT_EVENT_TYPE, GENERATION_WINDOW_S
from .logsafe import redact, register_secret
from .settings import Settings, parse_settings
from .text import api_length, clean_text

ENV_API_KEY = "AILICIA_API_KEY"
ENV_CHANNEL = "AILICIA_CHANNEL"
ENV_BASE_URL = "AILICIA_BASE_URL"

#: The environment variables the commands read (a flag, when given, wins).
ENVIRONMENT = (
    (ENV_API_KEY, "your API key (better than --api-key, which stays in your shell history)"),
    (ENV_CHANNEL, "your Twitch channel name, when --channel is not given"),
    (ENV_BASE_URL, "the API address, when --base-url is not given (e.g. a sandbox on this computer)"),
)
KEY_ADVICE = (
    f"Better: set the {ENV_API_KEY} environment variable instead of --api-key; a key typed on the "
    "command line stays in your shell history and other programs can see it."
)
#: Help text is wrapped to the terminal, but never wider than this: long lines are hard to read.
HELP_MAX_WIDTH = 100

#: The longest --event-type accepted (a label, not content).
EVENT_TYPE_MAX_CHARS = 64


class CommandError(Exception):
    """A failure to report in plain words (``message``, optional ``hint``) with exit code ``code``."""

    def __init__(self, message: str, code: int, hint: str = "", *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        #: The error's reason when it came from the API (``errors.py``), "" otherwise.
        self.reason = reason


# --- shared by the commands that call the API ------------------------------------------


def connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"your ai_licia API key. Prefer the {ENV_API_KEY} environment variable (the "
        "default): a key typed here stays in your shell history",
    )
    group.add_argument(
        "--channel", metavar="NAME", help=f"your channel name or URL, e.g. mychannel (default: ${ENV_CHANNEL})"
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the API address (default: ${ENV_BASE_URL}, else {DEFAULT_BASE_URL}); http:// only "
        "for this computer, e.g. the sandbox",
    )
    return options


def add_event_type(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--event-type",
        metavar="LABEL",
        default=DEFAULT_EVENT_TYPE,
        help="the eventType label sent with the text (default: %(default)s)",
    )


@dataclass(frozen=True)
class Connection:
    """Checked settings for one command, and where each came from (the words of a failure name it)."""

    settings: Settings
    origins: Origins

    @property
    def channel(self) -> str:
        return self.settings.channel

    def call(self, request: Callable[[Any], Any]) -> Any:
        """``request(client)`` with a fresh client; an ``ApiError`` becomes a :class:`CommandError`."""
        client_module = import_sending("client")
        client = client_module.make_client(self.settings, send=True)  # the command line has no dry run
        try:
            return request(client)
        except err.ApiError as exc:
            raise _command_error(exc, self) from None
        finally:
            client.close()


def _origin(given: Any, flag: str, env: str) -> Tuple[str, str]:
    """(value, where it came from): the flag when given, else the environment variable ("" when unset)."""
    if given is not None:
        return str(given), flag
    return os.environ.get(env, ""), f"the {env} environment variable"


def checked_connection(args: argparse.Namespace, *, needs_channel: bool = True) -> Connection:
    """Key, channel and address checked the way the OBS panel checks them; raises :class:`CommandError`.

    ``needs_channel=False`` (``check``, ``listen``): a missing channel is no problem; a given one is still checked.
    The key is registered for masking before anything is printed: it may hide in the channel or the address.
    """
    if args.api_key is not None:
        report(KEY_ADVICE)
    key, key_from = _origin(args.api_key, "--api-key", ENV_API_KEY)
    if key.strip():
        register_secret(key.strip())
    channel, channel_from = _origin(args.channel, "--channel", ENV_CHANNEL)
    base_url, address_from = _origin(args.base_url, "--base-url", ENV_BASE_URL)
    if not base_url.strip():
        base_url, address_from = DEFAULT_BASE_URL, f"--base-url (none was given: the default {DEFAULT_BASE_URL})"
    settings = parse_settings({"api_key": key, "channel": channel, "api_base_url": base_url})
    no_channel = not channel.strip()
    own_words = {
        "api_key": (
            f"No API key: set the {ENV_API_KEY} environment variable (or pass --api-key)." if not key.strip() else None
        ),
        # "No channel" only when none was given; a given one that is unusable gets the settings' explanation.
        "channel": f"No channel: pass --channel NAME (your channel name) or set {ENV_CHANNEL}." if no_channel else None,
    }
    key_text = settings.api_key.reveal().lower()
    if len(key_text) >= 8 and key_text in settings.channel:  # shorter "keys" would match real channel names
        # Checked before any warning: those quote the channel, which here is the key.
        raise CommandError(
            f"The channel ({channel_from}) looks like your API key: pass your channel name with --channel "
            f"(the key belongs in the {ENV_API_KEY} environment variable).",
            EXIT_USAGE,
        )
    blocking = [p for p in settings.problems if p.blocking and (needs_channel or p.key != "channel" or not no_channel)]
    if blocking:
        hints = []
        if any(p.key == "api_base_url" for p in blocking):
            unset = "unset it" if address_from.startswith("the ") else "leave it out"
            hints.append(f"Check {address_from} ({unset} to use {DEFAULT_BASE_URL}).")
        if any(p.key == "channel" for p in blocking) and not no_channel:
            hints.append(f"The channel came from {channel_from}.")
        raise CommandError(" ".join(own_words.get(p.key) or p.message for p in blocking), EXIT_USAGE, " ".join(hints))
    for problem in settings.problems:
        if problem.blocking:
            continue  # only a missing channel for 'check' gets here: nothing to warn about
        report(f"Warning: {problem.message}")
    return Connection(settings, Origins(key=key_from, channel=channel_from, address=address_from))


def text_within(words: Sequence[str], limit: int, what: str) -> str:
    text = clean_text(" ".join(words))
    if not text:
        raise CommandError(f"The {what} is empty.", EXIT_USAGE)
    length = api_length(text)
    if length > limit:
        doubles = length - len(text)
        counted = (
            f" (counted as ai_licia counts: {doubles} emoji or other symbol(s) count as two characters each)"
            if doubles
            else ""
        )
        raise CommandError(
            f"The {what} is {length} characters long{counted}; ai_licia accepts at most {limit}.", EXIT_USAGE
        )
    return text


def check_event_type(label: str) -> None:
    """Refuse an empty or over-long --event-type before anything is sent (exit 2 means nothing was sent)."""
    cleaned = clean_text(label)
    if not cleaned:
        raise CommandError("The --event-type is empty.", EXIT_USAGE, f"Leave it out to use {DEFAULT_EVENT_TYPE}.")
    if len(cleaned) > EVENT_TYPE_MAX_CHARS:
        raise CommandError(
            f"The --event-type is {len(cleaned)} characters long; at most {EVENT_TYPE_MAX_CHARS} "
            "are accepted (it is a label, such as GAME_EVENT).",
            EXIT_USAGE,
        )


def _command_error(exc: Any, connection: Connection) -> CommandError:
    """The table's words and exit code for ``exc``, naming where each setting came from."""
    explained = explain_error(exc, connection.origins)
    hint = explained.advice
    if isinstance(exc, err.RateLimitedError):
        wait = f"try again in {exc.retry_after:.0f} s" if exc.retry_after else "try again in a little while"
        hint = f"ai_licia allows about one reaction per {GENERATION_WINDOW_S:g} s per key: {wait}."
    return CommandError(explained.message, explained.exit_code, hint, reason=exc.reason)


#: The packages the commands need, by the module name Python imports (pip's name differs for one).
_PACKAGES = {"requests": "requests", "websocket": "websocket-client"}


def import_sending(name: str) -> Any:
    """``ailicia_core.<name>``, which needs ``requests``: a missing install is explained, not a traceback."""
    try:
        if name == "demo":
            from . import demo as module
        else:
            from . import client as module
    except ModuleNotFoundError as exc:
        raise missing_package(exc) from None
    return module


def missing_package(exc: ModuleNotFoundError) -> CommandError:
    """The plain words for a package the command needs and Python cannot find; re-raises any other."""
    package = _PACKAGES.get((exc.name or "").split(".")[0])
    if package is None:
        raise exc
    return CommandError(
        f"This command needs the Python package '{package}', which is not installed.",
        EXIT_FAILED,
        f"Install it with:  python3 -m pip install {package}   (or run 'bash scripts/demo', which sets everything up)",
    )


# --- output ------------------------------------------------------------------------------


def say(line: str) -> None:
    print(redact(line), flush=True)


def report(message: str, hint: str = "") -> None:
    print(redact(message), file=sys.stderr, flush=True)
    if hint:
        print(f"  {redact(hint)}", file=sys.stderr, flush=True)


def silence_stdout() -> None:
    # Python flushes stdout once more at exit; pointing it at devnull keeps that flush from
    # printing a second BrokenPipeError.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout without a file descriptor (tests)
        pass


def tolerate_unencodable_output() -> None:
    # A console that cannot show a character (an emoji in a scene name, '…' on an old
    # Windows code page) must cost a '?', not a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def quiet_engine_log() -> None:
    # The engine's log lines are for OBS's Script Log; a command says what matters in its own words
    # (without a handler, Python would print the warnings on stderr, in the panel's words).
    engine_log = logging.getLogger("ailicia")
    if not any(isinstance(h, logging.NullHandler) for h in engine_log.handlers):
        engine_log.addHandler(logging.NullHandler())


# --- help -----------------------------------------------------------------------------


class HelpFormatter(argparse.HelpFormatter):
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


def exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


def add_command(
    commands: Any,
    name: str,
    summary: str,
    description: str,
    run: Callable[[argparse.Namespace], int],
    parents: Sequence[argparse.ArgumentParser] = (),
    epilog: str = "",
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        parents=list(parents),
        epilog=epilog or None,
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser
