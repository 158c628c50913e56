"""Settings: the persisted OBS settings, checked and normalized into one frozen value.

:func:`parse_settings` never raises. Every value it cannot use becomes a
:class:`Problem` in plain words that the panel shows, and a safe value is used in
its place. The keys of :data:`DEFAULTS` are a compatibility contract: streamers'
scene collections store them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .characters import parse_scene_characters
from .limits import DEFAULT_BASE_URL, DEFAULT_EVENT_TYPE, GENERATION_WINDOW_S
from .watch import WatchedSource, parse_watched_sources

TRIGGER_SLOTS = 5

DEFAULT_TRIGGER_PROMPTS = (
    "Something great just happened on stream: hype up chat with me!",
    "I just failed spectacularly. Roast me gently.",
    "Welcome everyone who just arrived and ask chat what they are up to today.",
    "",
    "",
)

#: Every persisted key with its default value (and so its type).
DEFAULTS: Mapping[str, Any] = {
    "api_key": "",
    "channel": "",
    "api_base_url": DEFAULT_BASE_URL,
    "enabled": True,
    "dry_run": False,
    "only_when_live": True,
    "auto_join": True,
    "auto_leave": True,
    "send_scene_changes": True,
    "send_stream_state": True,
    "send_recording_state": True,
    "send_source_visibility": True,
    "send_mute_changes": True,
    "ignored_scenes": "",
    "ignored_sources": "",
    "scene_descriptions": "",
    "scene_debounce_ms": 1500,
    "context_ttl_s": 0,
    "event_type": DEFAULT_EVENT_TYPE,
    "generation_cooldown_s": int(GENERATION_WINDOW_S),
    **{f"trigger_{n}_prompt": DEFAULT_TRIGGER_PROMPTS[n - 1] for n in range(1, TRIGGER_SLOTS + 1)},
    # issue 13: watched sources, characters per scene, named triggers
    "watched_sources": "",
    "watch_debounce_ms": 2000,
    "scene_characters": "",
    **{f"trigger_{n}_name": "" for n in range(1, TRIGGER_SLOTS + 1)},
    **{f"trigger_{n}_tts": False for n in range(1, TRIGGER_SLOTS + 1)},
    # issue 15 (Connect with ai_licia): the port of the ai_licia app's local WebSocket.
    "dashboard_ws_port": 51743,
}

# Bounds for the numeric settings: (lowest, highest). Values outside are clamped
# and reported, so a typo never turns into a zero-second retry loop.
NUMBER_BOUNDS = {
    "scene_debounce_ms": (0, 60_000),
    "context_ttl_s": (0, 7 * 24 * 3600),
    "generation_cooldown_s": (1, 3600),
    "watch_debounce_ms": (0, 60_000),
    "dashboard_ws_port": (1, 65535),  # issue 15
}

_TWITCH_LOGIN = re.compile(r"[a-z0-9_]{1,25}")
_HOSTNAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?", re.IGNORECASE)
_BEARER_PREFIX = re.compile(r"\Abearer(?:\s+|\Z)", re.IGNORECASE)
_TWITCH_HOSTS = ("twitch.tv/", "www.twitch.tv/", "m.twitch.tv/")


class ApiKey:
    """The API key. Its ``repr`` and ``str`` never show it; :meth:`reveal` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself: only for the ``Authorization`` header and redaction."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "ApiKey(<set>)" if self._value else "ApiKey(<empty>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Problem:
    """One setting that cannot be used as given. ``blocking`` problems stop all sending."""

    key: str
    message: str
    blocking: bool = False


@dataclass(frozen=True)
class Settings:
    """Everything the core needs, already checked. Build it with :func:`parse_settings`."""

    api_key: ApiKey = ApiKey("")
    channel: str = ""
    api_base_url: str = DEFAULT_BASE_URL
    enabled: bool = True
    dry_run: bool = False
    only_when_live: bool = True
    auto_join: bool = True
    auto_leave: bool = True
    send_scene_changes: bool = True
    send_stream_state: bool = True
    send_recording_state: bool = True
    send_source_visibility: bool = True
    send_mute_changes: bool = True
    ignored_scenes: frozenset = frozenset()
    ignored_sources: frozenset = frozenset()
    scene_descriptions: Tuple[Tuple[str, str], ...] = ()
    scene_debounce_ms: int = 1500
    context_ttl_s: int = 0
    event_type: str = DEFAULT_EVENT_TYPE
    generation_cooldown_s: int = int(GENERATION_WINDOW_S)
    trigger_prompts: Tuple[str, ...] = DEFAULT_TRIGGER_PROMPTS
    watched_sources: Tuple[WatchedSource, ...] = ()
    watch_debounce_ms: int = 2000
    scene_characters: Tuple[Tuple[str, str], ...] = ()
    trigger_names: Tuple[str, ...] = ("",) * TRIGGER_SLOTS
    trigger_tts: Tuple[bool, ...] = (False,) * TRIGGER_SLOTS
    #: issue 15: where the ai_licia app listens for "Connect with ai_licia".
    dashboard_ws_port: int = 51743
    problems: Tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def is_configured(self) -> bool:
        """True when nothing blocks talking to the API (key, channel and URL are usable)."""
        return not any(p.blocking for p in self.problems)

    @property
    def connection_key(self) -> Tuple[ApiKey, str, str]:
        """What identifies the account and endpoint: a change here resets pauses."""
        return (self.api_key, self.channel, self.api_base_url)

    def describe_scene(self, scene: str) -> str:
        """The streamer's words for ``scene`` ("" when none): exact match first, then any case."""
        folded = scene.casefold()
        for name, words in self.scene_descriptions:
            if name == scene:
                return words
        for name, words in self.scene_descriptions:
            if name.casefold() == folded:
                return words
        return ""

    def is_scene_ignored(self, scene: str) -> bool:
        return scene.strip().casefold() in self.ignored_scenes

    def is_source_ignored(self, source: str) -> bool:
        return source.strip().casefold() in self.ignored_sources

    def trigger_prompt(self, slot: int) -> str:
        """The prompt of hotkey ``slot`` (1-based), "" when unset or out of range."""
        if 1 <= slot <= len(self.trigger_prompts):
            return self.trigger_prompts[slot - 1]
        return ""

    def trigger_name(self, slot: int) -> str:
        """The streamer's name for hotkey ``slot`` ("" when unset or out of range)."""
        return self.trigger_names[slot - 1] if 1 <= slot <= len(self.trigger_names) else ""


def normalize_channel(raw: Any) -> str:
    """A channel handle from whatever a streamer pasted.

    Trims, accepts a channel URL (``https://twitch.tv/MyChannel`` gives
    ``mychannel``), drops leading ``#``/``@`` and lowercases. Idempotent:
    ``normalize_channel(normalize_channel(x)) == normalize_channel(x)``.
    """
    text = "" if raw is None else str(raw)
    # Repeat until stable so that odd pastes ("@ #Name", URLs of URLs) settle.
    for _ in range(8):
        cleaned = _normalize_channel_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def _normalize_channel_once(text: str) -> str:
    text = _strip_leading_marks(text)
    lowered = text.lower()
    if "://" in text or lowered.startswith(_TWITCH_HOSTS):
        target = text if "://" in text else "https://" + text
        try:
            parts = urlsplit(target)
            segments = [s for s in parts.path.split("/") if s.strip()]
            text = segments[0] if segments else ""
        except ValueError:
            text = ""
    return _strip_leading_marks(text).strip().lower()


def _strip_leading_marks(text: str) -> str:
    # All of "# @ #" at once: one mark per pass would need unboundedly many passes.
    start = 0
    while start < len(text) and (text[start] in "#@" or text[start].isspace()):
        start += 1
    return text[start:].strip()


def is_loopback_host(host: str) -> bool:
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":  # not *.localhost: some resolvers send those to DNS
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_valid_host(host: str) -> bool:
    """A DNS name or an IP literal; urlsplit alone lets "exa mple.com" or "a..b" through."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_HOSTNAME.fullmatch(ascii_host))


def check_base_url(raw: Any) -> Tuple[str, Optional[str]]:
    """(normalized URL, problem or None). https only, except http to a loopback host."""
    text = ("" if raw is None else str(raw)).strip().rstrip("/")
    if not text:
        return DEFAULT_BASE_URL, None
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return text, "The API address is not a valid URL."
    if parts.scheme not in ("http", "https") or not host:
        return text, "The API address must start with https:// (for example https://api.getailicia.com)."
    if not _is_valid_host(host) or parts.port == 0:
        return text, "The API address is not a valid URL."
    if parts.username or parts.password:
        return text, "The API address must not contain a user name or password."
    if parts.query or parts.fragment:
        return text, "The API address must not contain '?' or '#' parts."
    if parts.scheme == "http" and not is_loopback_host(host):
        return text, ("The API address must use https:// (plain http is only allowed for this computer, "
                      "e.g. a local sandbox).")
    return text, None


def _clean_key(raw: Any) -> Tuple[str, Optional[str]]:
    text = ("" if raw is None else str(raw)).strip()
    text = _BEARER_PREFIX.sub("", text, count=1)
    if not text:
        return "", ("Paste your ai_licia API key (Connection group), or click 'Connect with ai_licia' there to get "
                    "it from the ai_licia app.")
    if any(ch.isspace() for ch in text) or not text.isprintable():
        return "", "The API key contains spaces or line breaks: paste it again, exactly as ai_licia shows it."
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return "", "The API key contains characters an API key cannot have: paste it again."
    return text, None


def _as_bool(raw: Any, default: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
    return default


def _as_number(key: str, raw: Any, problems: list) -> int:
    default = DEFAULTS[key]
    low, high = NUMBER_BOUNDS[key]
    try:
        value = int(float(raw)) if not isinstance(raw, bool) else default
    except (TypeError, ValueError, OverflowError):
        problems.append(Problem(key, f"{_label(key)} must be a whole number; using {default}."))
        return default
    if value < low:
        problems.append(Problem(key, f"{_label(key)} cannot be below {low}; using {max(low, min(default, high))}."))
        return max(low, min(default, high))
    if value > high:
        problems.append(Problem(key, f"{_label(key)} cannot be above {high}; using {high}."))
        return high
    return value


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _lines(raw: Any) -> list:
    text = "" if raw is None else str(raw)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _parse_descriptions(raw: Any, problems: list) -> Tuple[Tuple[str, str], ...]:
    pairs = []
    for line in _lines(raw):
        sep = " = " if " = " in line else "="
        name, found, words = line.partition(sep)
        if not found or not name.strip() or not words.strip():
            problems.append(Problem("scene_descriptions",
                                    f"Scene descriptions: '{line[:60]}' is not 'Scene name = what it shows'."))
            continue
        pairs.append((name.strip(), words.strip()))
    return tuple(pairs)


def parse_settings(mapping: Optional[Mapping[str, Any]]) -> Settings:
    """Build :class:`Settings` from persisted values; never raises.

    Missing keys take :data:`DEFAULTS`. Unusable values are replaced by safe ones
    and listed in ``settings.problems``.
    """
    source = dict(DEFAULTS)
    source.update({k: v for k, v in (mapping or {}).items() if v is not None})
    problems: list = []

    key, key_problem = _clean_key(source["api_key"])
    if key_problem:
        problems.append(Problem("api_key", key_problem, blocking=True))

    channel = normalize_channel(source["channel"])
    if not channel:
        problems.append(Problem("channel", "Enter your channel name (for example mychannel).", blocking=True))
    elif not _TWITCH_LOGIN.fullmatch(channel):
        # Blocking, and never echoed: what lands here is sometimes the API key pasted in the wrong box.
        problems.append(Problem("channel", "The channel name can only hold letters, digits and _ (up to 25): "
                                "enter your Twitch channel name, or paste its twitch.tv link.", blocking=True))

    base_url, url_problem = check_base_url(source["api_base_url"])
    if url_problem:
        problems.append(Problem("api_base_url", url_problem, blocking=True))

    event_type = str(source["event_type"]).strip() or DEFAULT_EVENT_TYPE
    prompts = tuple(str(source[f"trigger_{n}_prompt"] or "").strip() for n in range(1, TRIGGER_SLOTS + 1))
    numbers = {name: _as_number(name, source[name], problems) for name in NUMBER_BOUNDS}
    flags = {
        name: _as_bool(source[name], DEFAULTS[name])
        for name, default in DEFAULTS.items()
        if isinstance(default, bool)
    }
    watched, watch_problems = parse_watched_sources(_lines(source["watched_sources"]))
    characters, character_problems = parse_scene_characters(_lines(source["scene_characters"]))
    problems.extend(Problem("watched_sources", m) for m in watch_problems)
    problems.extend(Problem("scene_characters", m) for m in character_problems)
    return Settings(
        api_key=ApiKey(key),
        channel=channel,
        api_base_url=base_url,
        ignored_scenes=frozenset(s.casefold() for s in _lines(source["ignored_scenes"])),
        ignored_sources=frozenset(s.casefold() for s in _lines(source["ignored_sources"])),
        scene_descriptions=_parse_descriptions(source["scene_descriptions"], problems),
        event_type=event_type,
        trigger_prompts=prompts,
        watched_sources=watched,
        scene_characters=characters,
        trigger_names=tuple(" ".join(str(source[f"trigger_{n}_name"] or "").split())
                            for n in range(1, TRIGGER_SLOTS + 1)),
        trigger_tts=tuple(flags.pop(f"trigger_{n}_tts") for n in range(1, TRIGGER_SLOTS + 1)),
        problems=tuple(problems),
        **numbers,
        **flags,
    )
