"""Every retry and timeout number of the product, in one place, each with its reason.

Like openai-python's ``_constants.py``: the modules that wait, retry or give up import
their numbers from here, so the whole policy reads on one page. Pure data; imports
nothing. Limits on bytes that come from outside live in :mod:`ailicia_core.limits`.
All durations are in seconds.
"""

from __future__ import annotations

# --- Requests to ai_licia ------------------------------------------------------
#: Longest wait for a TCP/TLS connection (shortened to what is left of a request's deadline).
CONNECT_TIMEOUT_S = 5.0
#: An ordinary request's whole deadline (connect, headers and body).
READ_TIMEOUT_S = 10.0
#: The join waits up to 10 s on the server before answering: leave it room (a whole-request deadline too).
JOIN_READ_TIMEOUT_S = 15.0
#: The shortest deadline honoured (a request with no time at all still gets a try).
MIN_DEADLINE_S = 0.05

# --- What the server asks for --------------------------------------------------
#: The one cap on a ``Retry-After`` (seconds or HTTP date), applied by the parser: a proxy's
#: "Retry-After: 86400" holds one lane for two minutes at most, never the others.
MAX_SERVER_WAIT_S = 120.0

# --- Backoff (exponential, capped, equal jitter) -------------------------------
#: First wait after a failure.
BASE_DELAY_S = 1.0
#: Longest wait between two tries of a lane.
MAX_DELAY_S = 30.0

# --- Tries per lane (the first included) ---------------------------------------
#: A join is one request: asking every 15 s at most while live is no storm, and she joins soon after an outage.
PRESENCE_MAX_DELAY_S = 15.0
#: Joins and leaves that got no usable answer are given up after this many tries (unless live with auto-join).
MAX_PRESENCE_TRIES = 5
#: Joins and leaves answered 429 this many times are given up.
MAX_PRESENCE_RATE_LIMITED_TRIES = 5
#: A reaction batch answered 429 this many times is given up.
MAX_RATE_LIMITED_TRIES = 4
#: A reaction batch that never reached the server is tried this many times before it is given up.
MAX_UNREACHED_TRIES = 6
#: Context is worth more tries: it is small, idempotent and the stream's memory.
MAX_CONTEXT_TRIES = 8
#: Context answered 429 this many times is given up.
MAX_CONTEXT_RATE_LIMITED_TRIES = 8
#: A character switch that could not reach ai_licia this many times is given up.
MAX_CHARACTER_TRIES = 5
#: A character switch answered 429 this many times is given up.
MAX_CHARACTER_RATE_LIMITED_TRIES = 4

# --- Join confirmation ---------------------------------------------------------
#: A join that timed out on the server's side is asked again up to this many times in all.
MAX_JOIN_ATTEMPTS = 3
#: Wait between two such joins.
JOIN_RETRY_DELAY_S = 5.0

# --- Recovery after an outage --------------------------------------------------
#: While something vital waits out an outage, ai_licia is asked at least this often whether it answers again.
PROBE_INTERVAL_S = 1.0
#: The probe's own deadline: a hanging API holds the worker no longer than this per probe.
PROBE_TIMEOUT_S = 5.0
#: At quit, context held only by an outage backoff goes if ai_licia answered this recently.
RECENTLY_ANSWERED_S = 5.0

# --- The live-event listener (EventSub stream) ---------------------------------
#: No byte for this long means the connection is dead (the docs promise pings every 30 s or so).
IDLE_TIMEOUT_S = 90.0
#: First wait before reconnecting (jittered: between half of it and all of it).
RECONNECT_BASE_S = 2.0
#: Longest wait between two connection attempts.
RECONNECT_CAP_S = 60.0
#: The ``retry:`` a server may ask for is honoured up to this long.
MAX_SERVER_RETRY_S = 300.0

# --- Live events: her leaves and the characters --------------------------------
#: She is asked back after an unexpected leave at most once per this many seconds.
REJOIN_INTERVAL_S = 120.0
#: Read timeout of the ``GET /v1/characters`` made at each connect (it runs on the listener's thread).
CHARACTERS_TIMEOUT_S = 2.0

# --- The command line ----------------------------------------------------------
#: The longest ``join`` waits for an answer (the server itself waits up to 10 s for ai_licia).
JOIN_WAIT_S = 15.0

# --- Connecting through the ai_licia app (loopback) ----------------------------
#: How long we wait for the streamer to click Allow in the app (the app's own requests expire sooner).
CONSENT_WAIT_S = 120.0
#: Opening the socket: the app is on this computer, so it answers at once or not at all.
OPEN_TIMEOUT_S = 2.0

# --- Threads -------------------------------------------------------------------
#: A worker thread's longest single sleep; it wakes at least this often even with nothing due.
LONGEST_SLEEP_S = 3600.0
