"""The one table of blame (``error_words.py``): one test per row, and both surfaces read it.

Each row is filled with recognisable origins, so a test can see what it blames: the
key, the channel, the address, or none of them (a failure on ai_licia's side or the
network's).
"""

from __future__ import annotations

import argparse

import pytest

from ailicia_core import cli_support
from ailicia_core import error_words as ew
from ailicia_core import errors as err
from ailicia_core.logsafe import register_secret
from ailicia_core.settings import parse_settings
from ailicia_core.status import describe_error

ORIGINS = ew.Origins(key="KEY-ORIGIN", channel="CHANNEL-ORIGIN", address="ADDRESS-ORIGIN")
KEY, CHANNEL, ADDRESS = ORIGINS.key, ORIGINS.channel, ORIGINS.address
REMOTE = "https://api.example.test"
LOCAL = "http://127.0.0.1:9"

#: row -> (facts, exit code, what it blames, words it must say, words it must not say)
ROWS = {
    "key_rejected": (
        dict(what="connection test", code=401),
        ew.EXIT_KEY_REJECTED,
        {KEY},
        "ai_licia rejected the API key (401).",
        "channel",
    ),
    "key_rejected:channel": (
        dict(what="context", code=401, channel="someoneelse"),
        ew.EXIT_KEY_REJECTED,
        {KEY, CHANNEL},
        "The key was refused for this channel: check the channel name (CHANNEL-ORIGIN) or the key",
        "paste it again",
    ),
    "not_linked": (
        dict(what="join", code=403, channel="someoneelse"),
        ew.EXIT_CHANNEL_REFUSED,
        {CHANNEL},
        "the channel is not linked to this API key",
        "the key was refused",
    ),
    "not_linked:leave": (
        dict(what="leave", code=403, channel="someoneelse"),
        ew.EXIT_CHANNEL_REFUSED,
        {CHANNEL},
        "ai_licia refused the leave for channel 'someoneelse' (403)",
        "credits",
    ),
    "needs_subscription": (dict(what="join", code=403), ew.EXIT_CHANNEL_REFUSED, set(), "subscription or credits", ""),
    "channel_not_found": (
        dict(what="join", code=404, channel="nobody"),
        ew.EXIT_CHANNEL_REFUSED,
        {CHANNEL},
        "cannot find the channel 'nobody'",
        "address",
    ),
    "address_not_found": (
        dict(what="join", code=404, channel="mychannel", address=REMOTE + "/api"),
        ew.EXIT_ADDRESS,
        {ADDRESS},
        f"not found at {REMOTE}/api for the join (404)",
        "channel",
    ),
    "redirect": (dict(what="context", code=307, address=REMOTE), ew.EXIT_ADDRESS, {ADDRESS}, "redirected", ""),
    "not_https": (dict(what="context", address=REMOTE), ew.EXIT_ADDRESS, {ADDRESS}, "does not speak https://", ""),
    "web_page": (dict(what="context", code=200), ew.EXIT_UNREACHABLE, {ADDRESS}, "a Wi-Fi login page", ""),
    "invalid": (dict(what="context", code=422), ew.EXIT_REFUSED_AS_INVALID, set(), "as invalid", ""),
    "rate_limited": (dict(what="reaction", code=429), ew.EXIT_RATE_LIMITED, set(), "'too many requests' (429)", ""),
    "server": (dict(what="context", code=500), ew.EXIT_UNREACHABLE, set(), "server had a problem", ""),
    "unexpected_status": (dict(what="context", code=418), ew.EXIT_UNREACHABLE, {ADDRESS}, "unexpected status", ""),
    "unreadable": (dict(what="connection test", code=200), ew.EXIT_UNREACHABLE, {ADDRESS}, "could not be read", ""),
    "too_large": (dict(what="context", code=200), ew.EXIT_UNREACHABLE, {ADDRESS}, "too large", ""),
    "connect_timeout": (dict(what="context"), ew.EXIT_UNREACHABLE, {ADDRESS}, "timed out", ""),
    "read_timeout": (dict(what="context"), ew.EXIT_UNREACHABLE, set(), "did not answer the context in time", "still"),
    "read_timeout:reaction": (
        dict(what="reaction"),
        ew.EXIT_UNREACHABLE,
        set(),
        "she may still react",
        "",
    ),
    "tls": (dict(what="context"), ew.EXIT_UNREACHABLE, set(), "Antivirus HTTPS scanning", ""),
    "unreachable": (dict(what="context", address=REMOTE), ew.EXIT_UNREACHABLE, {ADDRESS}, "internet connection", ""),
    "unreachable:loopback": (
        dict(what="context", address=LOCAL),
        ew.EXIT_UNREACHABLE,
        {ADDRESS},
        f"nothing answers at {LOCAL}",
        "internet",
    ),
    "broken": (dict(what="context"), ew.EXIT_UNREACHABLE, set(), "broke during the context", ""),
    "bad_channel": (dict(channel=".."), ew.EXIT_USAGE, {CHANNEL}, "is not a channel name", ""),
    "bad_character_id": (dict(what="character switch"), ew.EXIT_FAILED, set(), "no usable id", ""),
    "live:key_rejected": (dict(code=401), ew.EXIT_KEY_REJECTED, {KEY}, "Live events are off", "channel"),
    "live:not_included": (dict(code=403), ew.EXIT_CHANNEL_REFUSED, set(), "plan doesn't include live events", ""),
    "live:not_found": (
        dict(code=404, address=REMOTE + "/v2"),
        ew.EXIT_ADDRESS,
        {ADDRESS},
        f"live events were not found at {REMOTE}/v2",
        "plan",
    ),
    "unknown": (dict(what="context", reason="odd"), ew.EXIT_UNREACHABLE, set(), "failed (odd)", ""),
}


def test_every_row_has_its_test():
    assert set(ROWS) == set(ew.TABLE)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_row_blames_the_right_thing_with_its_exit_code(row):
    facts, code, blamed, says, never = ROWS[row]
    explained = ew.explain(row, origins=ORIGINS, **facts)
    text = explained.text
    assert explained.exit_code == code
    assert {origin for origin in (KEY, CHANNEL, ADDRESS) if origin in text} == blamed
    assert says in text
    assert not never or never.lower() not in text.lower()
    assert "{" not in text and "}" not in text  # every fact filled in


def test_a_channel_and_a_key_are_blamed_channel_first():
    text = ew.explain("key_rejected:channel", what="join", code=401, channel="x", origins=ORIGINS).text
    assert text.index(CHANNEL) < text.index(KEY)


def test_every_exit_code_of_the_table_is_documented_and_wrong_addresses_share_one():
    documented = {code for code, _ in ew.EXIT_CODES}
    assert {row.exit_code for row in ew.TABLE.values()} <= documented
    address_rows = ("address_not_found", "redirect", "not_https", "live:not_found")
    assert {ew.TABLE[row].exit_code for row in address_rows} == {ew.EXIT_ADDRESS}


@pytest.mark.parametrize(
    "reason, what, address, row",
    [
        (err.KEY_REJECTED, "connection test", REMOTE, "key_rejected"),
        (err.KEY_REJECTED, "event stream", REMOTE, "key_rejected"),
        (err.KEY_REJECTED, "character switch", REMOTE, "key_rejected"),
        *[(err.KEY_REJECTED, what, REMOTE, "key_rejected:channel") for what in sorted(ew.CHANNEL_REQUESTS)],
        (err.NOT_LINKED, "join", REMOTE, "not_linked"),
        (err.NOT_LINKED, "leave", REMOTE, "not_linked:leave"),
        (err.READ_TIMEOUT, "reaction", REMOTE, "read_timeout:reaction"),
        (err.READ_TIMEOUT, "join", REMOTE, "read_timeout"),
        (err.UNREACHABLE, "context", "http://localhost:8787", "unreachable:loopback"),
        (err.UNREACHABLE, "context", "http://[::1]:8787", "unreachable:loopback"),
        (err.UNREACHABLE, "context", REMOTE, "unreachable"),
        (err.UNREACHABLE, "context", "", "unreachable"),
        ("no_such_reason", "context", REMOTE, "unknown"),
    ],
)
def test_the_facts_pick_the_row(reason, what, address, row):
    assert ew.row_of(reason, what, address) == row


def test_the_panel_reads_the_same_row_and_names_its_own_fields():
    error = err.AuthError("context", err.KEY_REJECTED, status_code=401, channel="someoneelse")
    words = describe_error(error)
    assert words == ew.explain_error(error).text
    assert "check the channel name (the Twitch channel in Connection) or the key (the API key in Connection)" in words
    assert words.endswith("Sending is paused until the settings change.")  # the panel pauses; a command does not


def _args(**given):
    return argparse.Namespace(**{"api_key": None, "channel": None, "base_url": None, **given})


def test_the_command_line_reads_the_same_row_and_names_where_each_setting_came_from(monkeypatch):
    monkeypatch.setenv(cli_support.ENV_API_KEY, "abcd-efgh-ijkl")
    monkeypatch.setenv(cli_support.ENV_CHANNEL, "someoneelse")
    monkeypatch.setenv(cli_support.ENV_BASE_URL, "http://127.0.0.1:9/api")
    connection = cli_support.checked_connection(_args())
    error = err.AuthError("context", err.KEY_REJECTED, status_code=401, channel="someoneelse")
    failure = cli_support._command_error(error, connection)
    assert failure.code == ew.EXIT_KEY_REJECTED
    assert failure.message == ew.explain_error(error).message
    assert "(the AILICIA_CHANNEL environment variable) or the key (the AILICIA_API_KEY environment variable)" in (
        failure.hint
    )
    assert "paused" not in failure.hint
    missing = err.NotFoundError("join", err.ADDRESS_NOT_FOUND, status_code=404, address="http://127.0.0.1:9/api")
    failure = cli_support._command_error(missing, connection)
    assert failure.code == ew.EXIT_ADDRESS and "Check the AILICIA_BASE_URL environment variable" in failure.hint


def test_flags_win_over_the_environment_and_are_named(monkeypatch):
    monkeypatch.setenv(cli_support.ENV_CHANNEL, "fromenv")
    monkeypatch.delenv(cli_support.ENV_BASE_URL, raising=False)
    monkeypatch.setenv(cli_support.ENV_API_KEY, "abcd-efgh-ijkl")
    connection = cli_support.checked_connection(_args(channel="fromflag"))
    assert connection.channel == "fromflag"
    assert connection.origins.channel == "--channel"
    assert connection.origins.address.startswith("--base-url (none was given")


def test_outside_text_in_a_row_is_masked_and_shortened():
    register_secret("sk_live_0123456789abcdef")
    text = ew.explain(
        "address_not_found", what="join", code=404, address="http://127.0.0.1:9/sk_live_0123456789abcdef"
    ).text
    assert "sk_live_0123456789abcdef" not in text
    long_channel = ew.explain("channel_not_found", what="join", code=404, channel="x" * 500).text
    assert "x" * 41 not in long_channel


def test_a_link_to_another_site_is_not_taken_as_a_twitch_channel():
    settings = parse_settings({"api_key": "abcd-efgh", "channel": "https://youtube.com/@name"})
    assert settings.channel != "name"  # the link is kept whole, so it is refused, not read as a channel
    [problem] = [p for p in settings.problems if p.key == "channel"]
    assert problem.blocking and "enter your Twitch channel name, or paste its twitch.tv link" in problem.message
    assert parse_settings({"api_key": "abcd-efgh", "channel": "https://www.twitch.tv/Name"}).channel == "name"
