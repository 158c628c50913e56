"""The live dock: a loopback web page for OBS's Custom Browser Docks, and a captions overlay.

:class:`DockServer` (``server.py``) serves the pages in ``static/``, the state as
JSON, live updates as Server-Sent Events, and the controls as token-guarded
POSTs. It reads the engine (``Engine.status()``, ``engine.activity``) and hands
it events; it never calls OBS and never serves the API key.
"""

from .server import DockServer, DockStart

__all__ = ["DockServer", "DockStart"]
