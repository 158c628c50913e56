"""Sandbox: a local stand-in for the ai_licia REST API, on loopback.

Streamers point the script's ``api_base_url`` at it to try their setup without
spending credits; the integration and end-to-end tests talk to it too. It follows
the API docs (streams.md, events.md, openapi.yaml) and needs the standard library
only.

Endpoints
    ``POST /v1/streams/{channel}``    join: 200 with a JoinChannelResponse (joined,
                                      alreadyJoined or timeout); 403 foreign channel
                                      or no credits; 404 unknown channel
    ``DELETE /v1/streams/{channel}``  leave: 202, no body
    ``POST /v1/events``               context: 200; 400 invalid; 401 channel not
                                      tied to the key; 422 content too long
    ``POST /v1/events/generations``   as above with its own limit, plus 429 inside
                                      the per-key window
    ``GET /v1/characters``            the two example characters of openapi.yaml, the
                                      active one as the last PUT left it
    ``PUT /v1/characters/{id}/active``  204 and that character becomes active; 403
                                      for :data:`FOREIGN_CHARACTER_ID` (another
                                      streamer's); 404 for any other id

    A missing or unknown ``Authorization: Bearer <key>`` gets 401 with no body.
    Every key owns every owned channel. Channel names compare lowercase; the one
    in the path arrives URL-quoted. Other paths get 404, other methods on these
    paths 405, both without a body.

Content length
    The docs give the limits (:data:`~.limits.CONTEXT_MAX_CHARS`,
    :data:`~.limits.GENERATION_MAX_CHARS`) in "characters" without saying which
    kind. The sandbox counts the strictest plausible way: UTF-16 code units, as a
    Java or JavaScript server does. An emoji such as U+1F600 counts 2, "é" counts
    1. A text the sandbox accepts fits the real API under any reading.

Order of checks (the first that applies answers)
    1. ``drop_first``: the connection closes with no answer, at once.
    2. ``delay_s``: a wait before the answer. Lowering ``delay_s`` at runtime
       releases held requests; :meth:`Sandbox.stop` ends the wait and closes the
       connection with no answer.
    3. ``fail_first``: 503, no body.  4. ``garbage_first``: 200, ``<html>oops</html>``.
    5. Unknown path 404, wrong method 405, missing or unknown key 401.
    6. The endpoint's own checks, below.

    The fault counters are taken in arrival order. Faults stand for trouble in
    front of the API (a proxy, the network): a request they answer changes nothing.

    Join: foreign 403, unknown 404, ``no_credits`` 403 with a JSON body; a joined
    channel answers ``alreadyJoined`` at once. Otherwise the sandbox waits
    ``join_delay_s`` and answers joined or, while ``join_timeouts`` lasts or with
    ``join_always_times_out``, the timeout payload. As with the real API, where
    the join may still complete, the channel counts as joined after a timeout.

    Events and generations: 400 (invalid JSON, missing ``eventType``,
    ``data.channelName`` or ``data.content``, a ``data.ttl`` that is not a whole
    number >= 0), then 401 for a channel not tied to the key, then 422. Only then
    does a generation meet the window: one accepted per ``generation_window_s``
    per API key; earlier ones get 429 with ``Retry-After`` (whole seconds left,
    rounded up) unless ``no_retry_after``. A 429 does not restart the window.

Output
    One line on stdout per request, when it is answered (the status is part of
    the line). The API key is never printed; the line says ``auth ok``, ``bad key``
    or ``no key``. With ``record_path``, every request is also appended to that
    JSON-lines file with the keys ``t`` (epoch seconds), ``method``, ``path``,
    ``channel``, ``body`` (the parsed JSON, null if none or unparseable),
    ``status`` (null when no answer was sent) and ``auth``.

Command line
    ``python -m ailicia_core.sandbox --help``; :func:`add_arguments` and :func:`run`
    let another command line host the same options.

Modules
    ``config`` (settings, records, answers), ``rules`` (how each request is
    answered), ``server`` (:class:`Sandbox` and its HTTP plumbing), ``cli``.
"""

from .cli import add_arguments, config_from_args, main, run
from .config import (
    ALREADY_JOINED_MESSAGE,
    AUTH_BAD,
    AUTH_MISSING,
    AUTH_OK,
    CHARACTERS,
    DEFAULT_API_KEY,
    DEFAULT_CHANNEL,
    DEFAULT_CLI_PORT,
    DEFAULT_FOREIGN_CHANNEL,
    DEFAULT_JOIN_DELAY_S,
    FOREIGN_CHARACTER_ID,
    GARBAGE_BODY,
    JOIN_TIMEOUT_MESSAGE,
    JOINED_MESSAGE,
    MAX_BODY_BYTES,
    NO_CREDITS_MESSAGE,
    RUNTIME_SWITCHES,
    RecordedRequest,
    SandboxConfig,
    utf16_length,
)
from .server import Sandbox

__all__ = [
    "ALREADY_JOINED_MESSAGE",
    "AUTH_BAD",
    "AUTH_MISSING",
    "AUTH_OK",
    "CHARACTERS",
    "DEFAULT_API_KEY",
    "DEFAULT_CHANNEL",
    "DEFAULT_CLI_PORT",
    "DEFAULT_FOREIGN_CHANNEL",
    "DEFAULT_JOIN_DELAY_S",
    "FOREIGN_CHARACTER_ID",
    "GARBAGE_BODY",
    "JOIN_TIMEOUT_MESSAGE",
    "JOINED_MESSAGE",
    "MAX_BODY_BYTES",
    "NO_CREDITS_MESSAGE",
    "RUNTIME_SWITCHES",
    "RecordedRequest",
    "Sandbox",
    "SandboxConfig",
    "add_arguments",
    "config_from_args",
    "main",
    "run",
    "utf16_length",
]
