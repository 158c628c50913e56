"""The command line's plumbing: exit codes, checked connections, the terminal's words, output.

:mod:`ailicia_core.cli` defines the commands; this module holds what they share:
:class:`Connection` (key, channel and address checked the way the OBS panel checks
them), :func:`terminal_words` (the terminal's sentence for an API error, from the
error's facts: a one-shot command pauses nothing and has no "Advanced" group),
the checks that refuse bad input with exit code 2 before anything is sent, and
output that never shows the key.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .limits import DEFAULT_BASE_URL, DEFAULT_EVENT_TYPE, GENERATION_WINDOW_S
from .logsafe import redact
from .settings import Settings, parse_settings
from .text import api_length, clean_text

ENV_API_KEY = "AILICIA_API_KEY"
ENV_CHANNEL = "AILICIA_CHANNEL"
ENV_BASE_URL = "AILICIA_BASE_URL"

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
    (
        EXIT_USAGE,
        "bad command or settings: no key or channel, http:// to another computer, text too long, "
        "or ai_licia refused the request as invalid (400/422)",
    ),
    (EXIT_KEY_REJECTED, "ai_licia rejected the API key (401)"),
    (
        EXIT_CHANNEL_REFUSED,
        "the channel is not linked to the key, not found, or has no subscription or credits (403/404)",
    ),
    (EXIT_RATE_LIMITED, "too many reactions: wait for the window and try again (429)"),
    (EXIT_UNREACHABLE, "no usable answer: network trouble, ai_licia's server failed (5xx), or an odd answer"),
    (EXIT_JOIN_NOT_CONFIRMED, "ai_licia did not confirm joining chat in time (she may still join)"),
    (EXIT_INTERRUPTED, "interrupted with Ctrl+C"),
)

_KEY_ADVICE = (
    f"Better: set the {ENV_API_KEY} environment variable instead of --api-key; a key typed on the "
    "command line stays in your shell history and other programs can see it."
)
#: Help text is wrapped to the terminal, but never wider than this: long lines are hard to read.
HELP_MAX_WIDTH = 100

#: The terminal's own words where the panel's would mislead: a one-shot command pauses nothing,
#: and the address is set with --base-url, not in "Advanced". Other errors use the panel's sentence.
_TERMINAL_WORDS = {
    "key_rejected": "ai_licia rejected the API key for channel '{channel}' ({code}).",
    "address_not_found": "ai_licia's API was not found at this address for the {what} ({code}); check --base-url "
    "(it ends at the host name, without /v1).",
    "redirect": "The API address redirected the {what} elsewhere ({code}); check --base-url.",
    "not_https": "The API address does not speak https:// (it answered the {what} in plain HTTP); check "
    "--base-url (http:// is only for a sandbox on this computer).",
}
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


def _connection_options() -> argparse.ArgumentParser:
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
        default=os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
        help=f"the API address (default: ${ENV_BASE_URL}, else {DEFAULT_BASE_URL}); http:// only "
        "for this computer, e.g. the sandbox",
    )
    return options


def _add_event_type(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--event-type",
        metavar="LABEL",
        default=DEFAULT_EVENT_TYPE,
        help="the eventType label sent with the text (default: %(default)s)",
    )


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

        client = client_module.make_client(self.settings, send=True)  # the command line has no dry run
        try:
            return request(client)
        except ApiError as exc:
            raise _command_error(exc, self) from None
        finally:
            client.close()


def _connection(args: argparse.Namespace, *, needs_channel: bool = True) -> Connection:
    """Key, channel and address checked the way the OBS panel checks them; raises :class:`CommandError`.

    ``needs_channel=False`` (``check``): a missing channel is no problem; a given one is still checked.
    """
    if args.api_key is not None:
        _report(_KEY_ADVICE)
        key, key_source = args.api_key, "--api-key"
    else:
        key, key_source = os.environ.get(ENV_API_KEY, ""), f"the {ENV_API_KEY} environment variable"
    channel = args.channel if args.channel is not None else os.environ.get(ENV_CHANNEL, "")
    settings = parse_settings({"api_key": key, "channel": channel, "api_base_url": args.base_url})
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
            "The channel looks like your API key: pass your channel name with --channel "
            f"(the key belongs in the {ENV_API_KEY} environment variable).",
            EXIT_USAGE,
        )
    blocking = [p for p in settings.problems if p.blocking and (needs_channel or p.key != "channel" or not no_channel)]
    if blocking:
        url_hint = (
            f"Check --base-url (leave it out to use {DEFAULT_BASE_URL})."
            if any(p.key == "api_base_url" for p in blocking)
            else ""
        )
        raise CommandError(" ".join(own_words.get(p.key) or p.message for p in blocking), EXIT_USAGE, url_hint)
    for problem in settings.problems:
        if problem.blocking:
            continue  # only a missing channel for 'check' gets here: nothing to warn about
        _report(f"Warning: {problem.message}")
    return Connection(settings, key_source)


def _text_within(words: Sequence[str], limit: int, what: str) -> str:
    text = clean_text(" ".join(words))
    if not text:
        raise CommandError(f"The {what} is empty.", EXIT_USAGE)
    length = api_length(text)
    if length > limit:
        raise CommandError(f"The {what} is {length} characters long; ai_licia accepts at most {limit}.", EXIT_USAGE)
    return text


def _check_event_type(label: str) -> None:
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


def terminal_words(exc: Any) -> str:
    """The terminal's sentence for an ``ApiError``: the panel's, except where those would mislead here."""
    template = _TERMINAL_WORDS.get(exc.reason)
    if template is None:
        return exc.message
    channel = redact(clean_text(str(exc.channel)))[:40]
    return template.format(channel=channel, code=exc.status_code, what=exc.what)


def _command_error(exc: Any, connection: Connection) -> CommandError:
    """The exit code for ``exc``, with a hint that adds what the message cannot know (never repeats it)."""
    from . import errors as err

    message = terminal_words(exc)
    if isinstance(exc, err.AuthError):
        return CommandError(message, EXIT_KEY_REJECTED, f"The key came from {connection.key_source}.")
    if isinstance(exc, (err.ForbiddenError, err.NotFoundError)):
        return CommandError(message, EXIT_CHANNEL_REFUSED)
    if isinstance(exc, err.RateLimitedError):
        wait = f"try again in {exc.retry_after:.0f} s" if exc.retry_after else "try again in a little while"
        return CommandError(
            message,
            EXIT_RATE_LIMITED,
            f"ai_licia allows about one reaction per {GENERATION_WINDOW_S:g} s per key: {wait}.",
        )
    if isinstance(exc, err.ContentRejectedError):
        return CommandError(message, EXIT_USAGE)
    return CommandError(
        message, EXIT_UNREACHABLE, f"API address: {connection.settings.api_base_url}", reason=exc.reason
    )


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
        raise CommandError(
            "This command needs the Python package 'requests', which is not installed.",
            EXIT_FAILED,
            "Install it with:  python3 -m pip install requests   "
            "(or run 'bash scripts/demo', which sets everything up)",
        ) from None
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
