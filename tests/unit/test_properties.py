"""Rules that hold for every input (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ailicia_core import events as ev
from ailicia_core.compose import SendContext, SendGeneration, StreamState, compose
from ailicia_core.limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from ailicia_core.settings import DEFAULTS, Settings, normalize_channel, parse_settings
from ailicia_core.text import ELLIPSIS, api_length, clean_text, fit

EXAMPLES = settings(max_examples=150, deadline=None)

# Any code point, lone surrogates included (st.text() leaves those out by default).
ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR)
# Text biased towards what makes lengths hard: emoji, CJK, combining marks, spaces, line breaks.
TRICKY_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["\U0001f600", "\U0001f1eb\U0001f1f7", "\u5b57", "e\u0301", " ", "\n", "'", "\u05e9", "a"]),
        ANY_CHAR,
    )
).map("".join)


def utf8_json_round_trip(text: str) -> None:
    encoded = json.dumps({"content": text}, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    assert json.loads(encoded.decode("utf-8"))["content"] == text


@EXAMPLES
@given(text=st.one_of(st.text(), TRICKY_TEXT.map(clean_text)), limit=st.integers(0, 800))
def test_fit_never_exceeds_the_limit_and_stays_valid_utf8(text, limit):
    fitted = fit(text, limit)
    assert api_length(fitted) <= limit
    utf8_json_round_trip(fitted)
    if api_length(text) <= limit:
        assert fitted == text
    elif fitted:
        assert fitted.endswith(ELLIPSIS)
        assert text.startswith(fitted[:-1])


@EXAMPLES
@given(text=TRICKY_TEXT, limit=st.sampled_from([1, 2, 3, GENERATION_MAX_CHARS, CONTEXT_MAX_CHARS]))
@example(text="a" * 299 + "\ud83d\ude00tail", limit=GENERATION_MAX_CHARS)
@example(text="\ud800" * 400, limit=CONTEXT_MAX_CHARS)
def test_clean_then_fit_is_valid_utf8_for_any_code_points(text, limit):
    fitted = fit(clean_text(text), limit)
    assert api_length(fitted) <= limit
    utf8_json_round_trip(fitted)


@EXAMPLES
@given(TRICKY_TEXT)
def test_clean_text_is_one_line_of_valid_utf8_and_idempotent(text):
    cleaned = clean_text(text)
    utf8_json_round_trip(cleaned)
    assert "\n" not in cleaned and "\r" not in cleaned
    assert clean_text(cleaned) == cleaned


NAME = st.one_of(TRICKY_TEXT, st.text(min_size=600, max_size=2500))


def event_strategy():
    return st.one_of(
        st.builds(ev.SceneSwitched, NAME),
        st.builds(ev.StreamStarted, NAME),
        st.builds(ev.StreamAlreadyLive, NAME),
        st.just(ev.StreamStopped()),
        st.builds(ev.SourceVisibilityChanged, NAME, NAME, st.booleans()),
        st.builds(
            ev.AudioMuteChanged,
            NAME,
            st.booleans(),
            st.sampled_from(["", "wasapi_input_capture", "pulse_output_capture", "ffmpeg_source"]),
        ),
        st.builds(ev.TriggerPressed, st.integers(0, 6)),
        st.builds(ev.ManualContext, NAME),
        st.builds(ev.ManualGeneration, NAME),
    )


@EXAMPLES
@given(
    events=st.lists(event_strategy(), min_size=1, max_size=6),
    description=NAME,
    prompt=NAME,
    live=st.booleans(),
)
@example(
    events=[ev.ManualContext("\x1b"), ev.ManualGeneration("\x1b"), ev.TriggerPressed(1)],
    description="",
    prompt="\x1b",
    live=False,
)
def test_every_composed_request_fits_its_limit(events, description, prompt, live):
    scene = events[0].scene if isinstance(events[0], ev.SceneSwitched) else "Main"
    desc_line = f"{clean_text(scene) or 'x'} = {clean_text(description) or 'y'}"
    config = parse_settings(
        {
            "api_key": "sk-test-1234",
            "channel": "mychannel",
            "only_when_live": False,
            "scene_descriptions": desc_line,
            "trigger_1_prompt": prompt,
        }
    )
    state = StreamState(live=live, live_since=0.0 if live else None)
    for event in events:
        state, actions = compose(event, config, state, 100.0)
        for action in actions:
            if isinstance(action, SendContext):
                assert 0 < api_length(action.content) <= CONTEXT_MAX_CHARS
                utf8_json_round_trip(action.content)
            elif isinstance(action, SendGeneration):
                assert 0 < api_length(action.content) <= GENERATION_MAX_CHARS
                utf8_json_round_trip(action.content)


CHANNEL_PIECES = st.sampled_from(
    [
        "#",
        "@",
        " ",
        "\t",
        "https://",
        "http://",
        "twitch.tv/",
        "www.twitch.tv/",
        "/",
        "?x=1",
        "#frag",
        "://",
        "My",
        "chan",
        "_",
        "[",
        ":",
        "\u0130",
        "\u00df",
    ]
)


@EXAMPLES
@given(st.one_of(ANY_TEXT, st.lists(CHANNEL_PIECES, max_size=24).map("".join)))
@example("# " * 10 + "Name")  # once needed more passes than normalize_channel made
@example("#https://twitch.tv/X")
def test_normalize_channel_is_idempotent(raw):
    once = normalize_channel(raw)
    assert normalize_channel(once) == once
    assert once == once.strip()
    assert not once.startswith(("#", "@"))


KNOWN_KEYS = sorted(DEFAULTS)
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    ANY_TEXT,
    st.text(),
    st.sampled_from(["25", "-1", "1e999", "nan", "Bearer x", "http://127.0.0.1", "#chan"]),
)


@EXAMPLES
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), ANY_VALUE))
def test_parse_settings_never_raises(mapping):
    parsed = parse_settings(mapping)
    assert isinstance(parsed, Settings)
    assert all(isinstance(p.message, str) and p.message for p in parsed.problems)
    assert parsed.is_configured == (not any(p.blocking for p in parsed.problems))
    # Whatever came in, the numbers are within their bounds.
    assert 1 <= parsed.generation_cooldown_s <= 3600
    assert 0 <= parsed.scene_debounce_ms <= 60_000
    assert 0 <= parsed.context_ttl_s


@EXAMPLES
@given(
    key=st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=12).map("sk-".__add__),
    others=st.dictionaries(st.sampled_from(KNOWN_KEYS), ANY_VALUE),
)
def test_the_key_never_shows_in_repr(key, others):
    parsed = parse_settings({**others, "api_key": key})
    assert parsed.api_key.reveal() == key
    for shown in (
        repr(parsed),
        str(parsed),
        str(parsed.api_key),
        repr(parsed.connection_key),
        " ".join(p.message for p in parsed.problems),
    ):
        assert key not in shown
