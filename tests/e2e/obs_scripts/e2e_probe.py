"""Shared state of the two timing probes. Not a script: the probes import it.

OBS 29 dispatches a frontend event to the callbacks in *reverse* registration
order (checked: a script loaded later is called earlier). The harness therefore
lists the scripts as ``e2e_probe_exit``, ``ailicia_obs``, ``e2e_probe_enter``,
so that for every event ``e2e_probe_enter`` runs just before our callback and
``e2e_probe_exit`` just after it. All three run on the Qt UI thread, so the
difference brackets how long our callback held the UI thread.

Taking a stamp costs one ``perf_counter_ns`` and a list append: nothing here
does I/O inside a callback. :func:`dump` (called from ``script_unload``) and
the driver's ``timings`` command read the lists out of band.

This module stays imported across script reloads and scene-collection switches,
so the records cover the whole OBS run.
"""

import json
import os
import threading
import time

#: One dict per event that both probes saw: event, enter_ns, exit_ns, held_us, thread.
brackets = []
#: One dict per event the enter probe saw, in order: event, t_ns, wall, thread.
events = []

_pending = None  # (event name, enter stamp, thread) set by the enter probe
_names = {}


def event_name(event):
    if not _names:
        import obspython

        prefix = "OBS_FRONTEND_EVENT_"
        _names.update({getattr(obspython, n): n[len(prefix) :] for n in dir(obspython) if n.startswith(prefix)})
    return _names.get(event, str(event))


def on_enter(event):
    global _pending
    t = time.perf_counter_ns()
    name = event_name(event)
    thread = threading.get_ident()
    _pending = (name, t, thread)
    events.append({"event": name, "t_ns": t, "wall": time.time(), "thread": thread})


def on_exit(event):
    global _pending
    t = time.perf_counter_ns()
    pending, _pending = _pending, None
    if pending is None or pending[0] != event_name(event) or pending[2] != threading.get_ident():
        return  # the enter probe did not see this dispatch (mid-reload): no bracket
    name, t0, thread = pending
    brackets.append({"event": name, "enter_ns": t0, "exit_ns": t, "held_us": (t - t0) / 1000.0, "thread": thread})


def snapshot():
    """Both lists as plain JSON-ready data (copies)."""
    return {"brackets": list(brackets), "events": list(events), "pid": os.getpid()}


def dump(path):
    """Write :func:`snapshot` to ``path`` atomically (tmp file + rename)."""
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(snapshot(), f)
    os.replace(tmp, path)
