"""The dock's limits, each with its reason: what one local client may cost the script.

The dock listens on loopback only, but any program on the computer (or a web page,
through the browser) can connect. These bound what such a client can hold.
"""

#: Connections served at once, event streams included (each holds one thread); more get 503 at once.
MAX_CONNECTIONS = 16
#: Open event streams at once (a dock and an overlay or two); more are refused with 503.
MAX_STREAMS = 8
#: The whole request (request line, headers, body) must arrive within this: a trickle cannot hold a thread.
REQUEST_DEADLINE_S = 5.0
#: One write may block this long (a page that stopped reading is let go, and its thread ends).
WRITE_TIMEOUT_S = 5.0
#: Longest POST body read (a control's JSON is a few dozen bytes); longer is answered 413.
MAX_BODY_BYTES = 4096
#: After Reload Scripts the old server's port may be held a moment longer (Windows, a lingering
#: connection under SO_EXCLUSIVEADDRUSE): the bind is tried again for this long, off the OBS thread.
BIND_RETRY_S = 3.0
#: Pause between two tries of the bind.
BIND_RETRY_EVERY_S = 0.2
