"""What the ai_licia API accepts, in one place (see ../shared/api/)."""

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
