"""Hearing: what the engine makes of ai_licia's live events (presence, character, captions).

:class:`Hearing` owns the :class:`~ailicia_core.listener.EventSubListener` and
turns each envelope into facts, on the listener's thread, without blocking:

- ``chat.ai_message``: her words, cleaned and cut to :data:`CAPTION_MAX_CHARS`,
  go to the :class:`CaptionMailbox` (the glue's OBS timer shows them), to the
  activity feed (kind ``ai_message``, outcome ``said``) and to one Script Log
  line ``ai_licia said: …``.
- ``system.join`` / ``system.left``: presence confirmed by the server, with the
  time; a leave nobody asked for while the stream is live and ``auto_join`` is
  on asks her back through the delivery worker, at most once per
  :data:`REJOIN_INTERVAL_S`.
- ``character.updated`` (or ``GET /v1/characters`` at each connect): the active
  character's name.

The glue reports whether the caption source exists (:meth:`report_caption_target`);
:meth:`status_fields` gives everything as plain facts for
:class:`~ailicia_core.status.Status` (words are in ``status.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from . import errors as err
from .activity import ActivityFeed
from .client import ApiClient
from .envelopes import Envelope
from .listener import EventSubListener
from .logsafe import redact
from .retry_policy import CHARACTERS_TIMEOUT_S, REJOIN_INTERVAL_S
from .settings import Settings
from .text import abbreviate, quote_name

log = logging.getLogger("ailicia")

#: Longest caption shown on screen (a readable line or two).
CAPTION_MAX_CHARS = 200
#: Longest of her words in a Script Log line.
LOG_MAX_CHARS = 300
#: A leave asked for within this many seconds before ``system.left`` was expected.
LEAVE_GRACE_S = 60.0

# What the glue found under ``caption_source`` (words in status.py).
CAPTION_OK = "ok"
CAPTION_MISSING = "missing"
CAPTION_NOT_TEXT = "not_text"


class CaptionMailbox:
    """The latest caption, one slot: :meth:`post` from the listener, :meth:`latest` from the OBS timer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._text = ""

    def post(self, text: str) -> int:
        with self._lock:
            self._seq += 1
            self._text = text
            return self._seq

    def latest(self) -> Tuple[int, str]:
        """``(seq, text)``: ``seq`` grows with every post (0: nothing yet)."""
        with self._lock:
            return self._seq, self._text


class CaptionPlan:
    """Pure: what the caption source should show now, given the mailbox and the clock (the glue's timer).

    :meth:`tick` returns the text to write, or None when nothing changes.
    """

    def __init__(self) -> None:
        self.seen_seq = 0
        self.shown_at: Optional[float] = None  # None: nothing on screen

    def tick(self, latest: Tuple[int, str], now: float, clear_after_s: float) -> Optional[str]:
        seq, text = latest
        if seq != self.seen_seq:
            self.seen_seq = seq
            self.shown_at = now
            return text
        if self.shown_at is not None and clear_after_s > 0 and now - self.shown_at >= clear_after_s:
            self.shown_at = None
            return ""
        return None


class Hearing:
    """The listener and what it heard. ``live()`` says whether the stream is on air (from the worker);
    ``rejoin()`` asks the worker for a join; ``key_rejected()`` joins the delivery's key pause.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        activity: ActivityFeed,
        live: Callable[[], bool],
        rejoin: Callable[[], None],
        key_rejected: Callable[[], None],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rng: Callable[[], float],
        session: Any = None,
        **listener_options: Any,
    ) -> None:
        self._settings = settings
        self._activity = activity
        self._live = live
        self._rejoin = rejoin
        self._clock = clock
        self._wall_clock = wall_clock
        self._session = session
        self.captions = CaptionMailbox()
        self._facts: Dict[str, Any] = {
            "confirmed_in_chat": None,
            "presence_at": "",
            "left_unexpectedly": False,
            "rejoin_asked": False,
            "character": "",
            "caption_target": "",
            "heard_messages": 0,
        }
        self._leave_asked_at: Optional[float] = None
        self._rejoined_at: Optional[float] = None
        self._handlers: Dict[str, Callable[[Any], None]] = {
            "chat.ai_message": self._heard_message,
            "system.join": self._heard_join,
            "system.left": self._heard_left,
            "character.updated": self._heard_character,
            "channel.go_live": self._heard_stream_state,
            "channel.go_offline": self._heard_stream_state,
        }
        self.listener = EventSubListener(
            settings,
            on_envelope=self.hear,
            on_connected=self._fetch_character,
            on_key_rejected=key_rejected,
            clock=clock,
            rng=rng,
            session=session,
            **listener_options,
        )

    # --- lifecycle (the listener's start and stop live in listener.py) -----------------

    def start(self) -> None:
        self.listener.start()

    def request_stop(self) -> None:
        self.listener.request_stop()

    def join(self, timeout: float) -> bool:
        return self.listener.join(timeout)

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings
        self.listener.reconfigure(settings)

    # --- facts from the engine and the glue (any thread) --------------------------------

    def leave_asked(self) -> None:
        """The streamer asked for a leave: the ``system.left`` that follows is expected."""
        self._leave_asked_at = self._clock()

    def report_caption_target(self, outcome: str) -> None:
        """What the glue found under ``caption_source``: :data:`CAPTION_OK`, ``MISSING``, ``NOT_TEXT`` or ""."""
        self._facts = {**self._facts, "caption_target": outcome}
        name = quote_name(self._settings.caption_source)
        if outcome == CAPTION_MISSING:
            log.warning("Captions: there is no source named '%s'.", name)
        elif outcome == CAPTION_NOT_TEXT:
            log.warning("Captions: '%s' is not a Text source (GDI+ or FreeType 2).", name)

    def status_fields(self) -> Dict[str, Any]:
        """The facts for :class:`~ailicia_core.status.Status` (plain values)."""
        state = self.listener.state
        retry_in = None if state.retry_at is None else max(0.0, state.retry_at - self._clock())
        return {
            **self._facts,
            "listener_state": state.state,
            "listener_retry_in_s": retry_in,
            "caption_source": self._settings.caption_source,
        }

    # --- what the listener heard (listener thread) ---------------------------------------

    def hear(self, envelope: Envelope) -> None:
        """Turn one envelope into facts, feed entries, a caption and log lines. Never blocks."""
        handler = self._handlers.get(envelope.type)
        if handler is not None:
            handler(envelope.payload)

    def _heard_message(self, payload: Any) -> None:
        words = str(payload.get("message") or "")
        if not words.strip():
            return
        caption = redact(abbreviate(words, CAPTION_MAX_CHARS))
        self.captions.post(caption)
        self._facts = {**self._facts, "heard_messages": self._facts["heard_messages"] + 1}
        self._activity.add(self._wall_clock(), "ai_message", words, "said", str(payload.get("username") or ""))
        log.info("ai_licia said: %s", redact(abbreviate(words, LOG_MAX_CHARS)))

    def _heard_join(self, payload: Any) -> None:
        self._facts = {
            **self._facts,
            "confirmed_in_chat": True,
            "presence_at": self._time_of_day(),
            "left_unexpectedly": False,
            "rejoin_asked": False,
        }
        self._activity.add(self._wall_clock(), "presence", "ai_licia joined chat", "info")
        log.info("Live events: ai_licia is in chat (confirmed by ai_licia).")

    def _heard_left(self, payload: Any) -> None:
        now = self._clock()
        settings = self._settings
        asked = self._leave_asked_at is not None and now - self._leave_asked_at <= LEAVE_GRACE_S
        unexpected = not asked and bool(self._live())
        may_rejoin = self._rejoined_at is None or now - self._rejoined_at >= REJOIN_INTERVAL_S
        rejoin = unexpected and settings.auto_join and settings.enabled and may_rejoin
        self._facts = {
            **self._facts,
            "confirmed_in_chat": False,
            "presence_at": self._time_of_day(),
            "left_unexpectedly": unexpected,
            "rejoin_asked": rejoin,
        }
        self._activity.add(
            self._wall_clock(),
            "presence",
            "ai_licia left chat",
            "info",
            "not asked by this script" if unexpected else "",
        )
        if unexpected:
            log.warning("Live events: ai_licia left chat while live, without being asked.")
        else:
            log.info("Live events: ai_licia left chat.")
        if rejoin:
            self._rejoined_at = now
            log.info("Asking ai_licia back into chat (at most once every %d s).", int(REJOIN_INTERVAL_S))
            self._rejoin()

    def _heard_character(self, payload: Any) -> None:
        self._set_character(str(payload.get("displayName") or payload.get("name") or ""))

    def _heard_stream_state(self, payload: Any) -> None:
        log.debug("Live events: ai_licia saw the stream go live or offline.")

    def character_switched(self, name: str) -> None:
        """The script's own switch was accepted (204): ``name`` is active until ai_licia says otherwise.

        The delivery records the switch in the activity feed itself; this only updates the fact.
        """
        name = abbreviate(name, 60)
        if name:
            self._facts = {**self._facts, "character": name}

    def _set_character(self, name: str) -> None:
        name = abbreviate(name, 60)
        if not name or name == self._facts["character"]:
            return
        self._facts = {**self._facts, "character": name}
        self._activity.add(self._wall_clock(), "character", name, "info")
        log.info("Active character: %s", name)

    def _fetch_character(self) -> None:
        """At each connect: the active character from ``GET /v1/characters`` (listener thread)."""
        settings = self._settings
        client = ApiClient(
            base_url=settings.api_base_url, api_key=settings.api_key, channel=settings.channel, session=self._session
        )
        try:
            characters = client.list_characters(timeout=CHARACTERS_TIMEOUT_S)
        except err.ApiError as exc:
            log.debug("Live events: could not read the characters (%s).", type(exc).__name__)
            return
        finally:
            client.close()
        self._set_character(next((c.name for c in characters if c.is_active), ""))

    def _time_of_day(self) -> str:
        return time.strftime("%H:%M", time.localtime(self._wall_clock()))
