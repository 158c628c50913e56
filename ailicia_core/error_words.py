"""The one table of blame: each fact about a failure to its words and its exit code.

A failure is stated as facts (``errors.py``: the reason, what was asked, the HTTP
status; the listener's state; the API address). :func:`row_of` picks the table's
row for those facts, and :func:`explain` fills the row's words with the facts and
with where each setting came from (:class:`Origins`): the panel says "the API
address in Advanced", the terminal says "--base-url" or "the AILICIA_BASE_URL
environment variable", whichever the user actually used. The panel
(``status.describe_error``) and the command line (``cli_support``) both read this
table, so one fact is never blamed on two different things.

Rules the rows follow: a 401 on a request that names the channel blames the
channel first (the API answers 401 for a channel the key does not control); a
wrong address is blamed on the address on every command, with :data:`EXIT_ADDRESS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from . import reasons
from .addresses import is_loopback_host
from .logsafe import redact
from .text import abbreviate

# --- exit codes of the command line -------------------------------------------------------
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_KEY_REJECTED = 3
EXIT_CHANNEL_REFUSED = 4
EXIT_RATE_LIMITED = 5
EXIT_UNREACHABLE = 6
EXIT_JOIN_NOT_CONFIRMED = 7
EXIT_ADDRESS = 8
EXIT_REFUSED_AS_INVALID = 9
EXIT_INTERRUPTED = 130

#: Every exit code and what it means: shown by ``--help`` and in the CLI reference.
EXIT_CODES = (
    (EXIT_OK, "it worked"),
    (EXIT_FAILED, "something else went wrong (a package missing, the demo did not go as planned)"),
    (EXIT_USAGE, "bad command or settings, nothing was sent: no key or channel, a bad address, text too long"),
    (EXIT_KEY_REJECTED, "the key was refused (401): a wrong key, or a channel the key does not control"),
    (
        EXIT_CHANNEL_REFUSED,
        "the channel is not linked to the key, not found, or the plan does not include it (403/404)",
    ),
    (EXIT_RATE_LIMITED, "too many requests: wait and try again (429)"),
    (EXIT_UNREACHABLE, "no usable answer: nothing answers, network trouble, ai_licia's server failed (5xx)"),
    (EXIT_JOIN_NOT_CONFIRMED, "ai_licia did not confirm joining chat in time (she may still join)"),
    (EXIT_ADDRESS, "the API address is wrong: no ai_licia API there (404, a redirect, plain http)"),
    (EXIT_REFUSED_AS_INVALID, "ai_licia received the request and refused it as invalid (400/422)"),
    (EXIT_INTERRUPTED, "interrupted with Ctrl+C"),
)

#: Requests whose path or body names the channel: only for these can a 401 mean "not your channel".
CHANNEL_REQUESTS = frozenset({"context", "reaction", "join", "leave"})
#: What the listener's refusals are about (its states in ``listener.py``).
LIVE_EVENTS = "live events"


@dataclass(frozen=True)
class Origins:
    """Where each setting came from, in words that fit after "check"."""

    key: str
    channel: str
    address: str
    #: Added after a rejected key on a surface that pauses sending ("" on the command line).
    key_pause: str = ""


#: The OBS panel's names for its fields.
PANEL = Origins(
    key="the API key in Connection",
    channel="the Twitch channel in Connection",
    address="the API address in Advanced",
    key_pause="Sending is paused until the settings change.",
)


@dataclass(frozen=True)
class Row:
    """One fact's words (``words``: what happened; ``advice``: what to check) and exit code."""

    words: str
    advice: str
    exit_code: int


_CHECK_ADDRESS = "Check {address_from}: it is the host name alone, with no path such as /v1 or /api."
_NETWORK = "Check the internet connection and {address_from}."

#: The table. Keys are :func:`row_of`'s: a reason, sometimes qualified by what was asked or where.
TABLE: Dict[str, Row] = {
    "key_rejected": Row(
        "ai_licia rejected the API key ({code}).",
        "Check the key ({key_from}): paste it again from your ai_licia dashboard.",
        EXIT_KEY_REJECTED,
    ),
    "key_rejected:channel": Row(
        "ai_licia rejected the API key for channel '{channel}' ({code}).",
        "The key was refused for this channel: check the channel name ({channel_from}) or the key ({key_from}).",
        EXIT_KEY_REJECTED,
    ),
    "not_linked": Row(
        "ai_licia refused the {what} for channel '{channel}' ({code}): the channel is not linked to this API key, "
        "or the account has no active subscription or credits.",
        "Check the channel name ({channel_from}) and your ai_licia plan.",
        EXIT_CHANNEL_REFUSED,
    ),
    "not_linked:leave": Row(
        "ai_licia refused the leave for channel '{channel}' ({code}): the channel is not linked to this API key.",
        "Check the channel name ({channel_from}).",
        EXIT_CHANNEL_REFUSED,
    ),
    "needs_subscription": Row(
        "ai_licia needs an active subscription or credits for this ({code}).",
        "Check your ai_licia plan.",
        EXIT_CHANNEL_REFUSED,
    ),
    "channel_not_found": Row(
        "ai_licia cannot find the channel '{channel}' for this API key ({code}).",
        "Check the channel name ({channel_from}).",
        EXIT_CHANNEL_REFUSED,
    ),
    "address_not_found": Row(
        "ai_licia's API was not found at {address} for the {what} ({code}).", _CHECK_ADDRESS, EXIT_ADDRESS
    ),
    "redirect": Row(
        "The API address {address} redirected the {what} elsewhere ({code}).", "Check {address_from}.", EXIT_ADDRESS
    ),
    "not_https": Row(
        "The API address {address} does not speak https:// (it answered the {what} in plain HTTP).",
        "Check {address_from} (http:// is only for a sandbox on this computer).",
        EXIT_ADDRESS,
    ),
    "web_page": Row(
        "The {what} was answered by a web page, not by ai_licia: check {address_from} and your network "
        "(a Wi-Fi login page?).",
        "",
        EXIT_UNREACHABLE,
    ),
    "invalid": Row("ai_licia refused the {what} as invalid ({code}).", "", EXIT_REFUSED_AS_INVALID),
    "rate_limited": Row("ai_licia answered the {what} with 'too many requests' ({code}).", "", EXIT_RATE_LIMITED),
    "server": Row("ai_licia's server had a problem with the {what} ({code}).", "", EXIT_UNREACHABLE),
    "unexpected_status": Row(
        "ai_licia answered the {what} with an unexpected status ({code}).", "Check {address_from}.", EXIT_UNREACHABLE
    ),
    "unreadable": Row(
        "ai_licia's answer to the {what} could not be read (status {code}, not the expected JSON).",
        "Check {address_from}.",
        EXIT_UNREACHABLE,
    ),
    "too_large": Row(
        "ai_licia's answer to the {what} was too large to read (over 64 KiB).",
        "Check {address_from} and your network (a proxy?).",
        EXIT_UNREACHABLE,
    ),
    "connect_timeout": Row(
        "Could not reach ai_licia for the {what}: the connection timed out.", _NETWORK, EXIT_UNREACHABLE
    ),
    "read_timeout": Row("ai_licia did not answer the {what} in time.", "", EXIT_UNREACHABLE),
    "read_timeout:reaction": Row(
        "ai_licia did not answer the reaction in time; she may still react.",
        "Wait a little before asking again, or she may react twice.",
        EXIT_UNREACHABLE,
    ),
    "tls": Row(
        "Could not open a secure connection to ai_licia for the {what} (certificate problem): the certificate was "
        "not trusted.",
        "Antivirus HTTPS scanning or a network that inspects encrypted traffic (at work or school) can cause this: "
        "turn off HTTPS scanning for OBS in the antivirus or try another network, and check that the computer's "
        "date and time are right.",
        EXIT_UNREACHABLE,
    ),
    "unreachable": Row("Could not reach ai_licia for the {what}.", _NETWORK, EXIT_UNREACHABLE),
    "unreachable:loopback": Row(
        "Could not reach ai_licia for the {what}: nothing answers at {address}.",
        "Is the sandbox (or the program you point at) running on that port? Check {address_from}.",
        EXIT_UNREACHABLE,
    ),
    "broken": Row("The connection to ai_licia broke during the {what}.", "", EXIT_UNREACHABLE),
    "bad_channel": Row("'{channel}' is not a channel name.", "Check {channel_from}.", EXIT_USAGE),
    "bad_character_id": Row("That character has no usable id.", "", EXIT_FAILED),
    # The listener's refusals (its states), for the live events.
    "live:key_rejected": Row(
        "Live events are off: ai_licia rejected the API key ({code}).",
        "Check the key ({key_from}).",
        EXIT_KEY_REJECTED,
    ),
    "live:not_included": Row(
        "Your ai_licia plan doesn't include live events ({code}).",
        "Without them, captions and ai_licia's confirmations are off.",
        EXIT_CHANNEL_REFUSED,
    ),
    "live:not_found": Row(
        "ai_licia's live events were not found at {address} ({code}).",
        _CHECK_ADDRESS,
        EXIT_ADDRESS,
    ),
    "unknown": Row("Sending the {what} to ai_licia failed ({reason}).", "", EXIT_UNREACHABLE),
}

#: The listener's halting states and the status they stand for.
LIVE_STATUS = {"key_rejected": 401, "not_included": 403, "not_found": 404}


@dataclass(frozen=True)
class Explained:
    """A row filled in: the sentence, the advice ("" for none) and the exit code."""

    message: str
    advice: str
    exit_code: int

    @property
    def text(self) -> str:
        """Sentence and advice as one line (the panel's form)."""
        return f"{self.message} {self.advice}".strip()


def row_of(reason: str, what: str = "", address: str = "") -> str:
    """The table's key for a failure's facts (an unknown reason gives ``"unknown"``)."""
    if reason == reasons.KEY_REJECTED and what in CHANNEL_REQUESTS:
        return "key_rejected:channel"
    if reason == reasons.NOT_LINKED and what == "leave":
        return "not_linked:leave"
    if reason == reasons.READ_TIMEOUT and what == "reaction":
        return "read_timeout:reaction"
    if reason == reasons.UNREACHABLE and on_this_computer(address):
        return "unreachable:loopback"
    return reason if reason in TABLE else "unknown"


def explain(
    key: str,
    *,
    what: str = "",
    code: Optional[int] = None,
    channel: str = "",
    address: str = "",
    reason: str = "",
    origins: Origins = PANEL,
) -> Explained:
    """Row ``key`` filled with the facts; outside text (channel, address) is shortened and masked."""
    row = TABLE[key]
    facts = {
        "what": what or "request",
        "code": code if code is not None else "no status",
        "channel": _quoted(channel),
        "address": _quoted(address, 80) or "the API address",
        "reason": reason or key,
        "key_from": origins.key,
        "channel_from": origins.channel,
        "address_from": origins.address,
    }
    advice = row.advice.format(**facts)
    if "key_rejected" in key:
        advice = f"{advice} {origins.key_pause}".strip()
    return Explained(redact(row.words.format(**facts)), redact(advice), row.exit_code)


def explain_error(error: Any, origins: Origins = PANEL) -> Explained:
    """:func:`explain` for an ``ApiError``."""
    address = getattr(error, "address", "")
    return explain(
        row_of(error.reason, error.what, address),
        what=error.what,
        code=error.status_code,
        channel=error.channel,
        address=address,
        reason=error.reason,
        origins=origins,
    )


def explain_live(state: str, address: str = "", origins: Origins = PANEL) -> Optional[Explained]:
    """The words for a listener that stopped on a refusal (``state`` from ``listener.py``), else None."""
    code = LIVE_STATUS.get(state)
    if code is None:
        return None
    return explain(f"live:{state}", what=LIVE_EVENTS, code=code, address=address, origins=origins)


def _quoted(text: Any, limit: int = 40) -> str:
    return redact(abbreviate(str(text or ""), limit))


def on_this_computer(address: str) -> bool:
    """True for an address on a loopback host (a sandbox, a local program), whatever its port."""
    try:
        return is_loopback_host(urlsplit(address).hostname or "")
    except ValueError:
        return False
