"""Limits in one place: what the ai_licia API accepts (see ../shared/api/), and how much of every byte
stream from outside we read, and for how long (each surface reads them with :mod:`ailicia_core.bounded`)."""

#: ``POST /v1/events``: ``data.content`` may hold at most this many characters.
CONTEXT_MAX_CHARS = 700
#: ``POST /v1/events/generations``: ``data.content`` may hold at most this many characters.
GENERATION_MAX_CHARS = 300
#: The server allows about one generation per this many seconds per API key.
GENERATION_WINDOW_S = 25.0
#: ``POST /v1/streams/{channel}`` waits up to this long for ai_licia to confirm the join.
JOIN_SERVER_WAIT_S = 10.0
#: The only ``eventType`` the OpenAPI enum lists; events.md says any label works.
DEFAULT_EVENT_TYPE = "GAME_EVENT"
#: Where the real API lives.
DEFAULT_BASE_URL = "https://api.getailicia.com"

# --- bytes from outside: every surface's bounds, read with ailicia_core.bounded --------------

#: Bytes asked of the network at a time: small enough that a cap or a stop is checked often and no
#: single read holds the interpreter for long, large enough that a normal event costs one read.
READ_PIECE_BYTES = 16 * 1024

#: Event stream: the longest line kept (an EventSub envelope is a few hundred bytes); longer ones are skipped.
EVENTSUB_MAX_LINE_BYTES = 64 * 1024
#: Event stream: the largest ``data`` of one event; a larger event is skipped whole.
EVENTSUB_MAX_EVENT_BYTES = 256 * 1024
#: Event stream: connect, send and the answer's headers must all fit in this many seconds (one deadline,
#: not one per read): a server that trickles its headers is cut off, and stop cuts it sooner.
EVENTSUB_HEADERS_DEADLINE_S = 10.0
#: Event stream: bytes read per second at most, on average (real traffic is well under 1 KiB/s): a flood
#: is read this slowly (the server waits), so decoding it never takes more than a sliver of a core.
EVENTSUB_MAX_BYTES_PER_S = 64 * 1024
#: Event stream: bytes that may be read at once before the rate above applies.
EVENTSUB_BURST_BYTES = 256 * 1024
#: Event stream: events handed over per second at most, on average; the excess is counted and skipped.
EVENTSUB_EVENTS_PER_S = 2.0
#: Event stream: events that may come at once before the rate above applies (a join brings a few).
EVENTSUB_EVENT_BURST = 20
#: Event stream: skipped events are summarized in one log line at most this often, in seconds.
EVENTSUB_SKIPPED_REPORT_S = 60.0
#: Event stream: the longest event id sent back as ``Last-Event-ID`` (an id is a short token).
EVENTSUB_MAX_ID_CHARS = 256
#: Event stream: a connection that lived this long (or delivered an event) was a success: backoff resets.
EVENTSUB_STABLE_AFTER_S = 30.0

#: The app's WebSocket: the largest frame accepted (a grant is a key, a channel name and scopes:
#: well under this); a larger announced length is refused before its payload is read.
APP_WS_MAX_FRAME_BYTES = 16 * 1024
#: The app's WebSocket: all bytes one Connect flow may receive, pings and continuations included (the
#: app's voice-amplitude events during a two-minute wait stay well under it).
APP_WS_MAX_FLOW_BYTES = 1024 * 1024
#: The app's WebSocket: the socket opens and the handshake's answer arrives within this many seconds, whole.
APP_WS_HANDSHAKE_DEADLINE_S = 2.0
#: The app's WebSocket: the longest granted channel name kept (a Twitch login is at most 25 characters).
APP_GRANT_MAX_CHANNEL_CHARS = 64
