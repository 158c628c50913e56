"""Harness self-check: holds the UI thread for ``hold_ms`` on every frontend event.

Loaded in ailicia_obs's place, it proves the timing probes bracket exactly the
script between them.
"""

import time

import obspython as obs

_hold_s = 0.0


def _on_event(event):
    deadline = time.perf_counter() + _hold_s
    while time.perf_counter() < deadline:
        pass  # busy wait: a sleep would give up the GIL and blur the measurement


def script_load(settings):
    global _hold_s
    _hold_s = obs.obs_data_get_int(settings, "hold_ms") / 1000.0
    obs.obs_frontend_add_event_callback(_on_event)
