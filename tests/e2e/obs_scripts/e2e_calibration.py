"""Harness self-check, loaded in ailicia_obs's place (never with it).

* Holds the UI thread for ``hold_ms`` on every frontend event, so a test can
  check that the timing probes bracket exactly the script between them.
* Raises on the frontend event named ``fail_on_event`` (e.g. "SCENE_CHANGED"),
  so a test can check that the log check catches a Python failure.
"""

import time

import obspython as obs

_hold_s = 0.0
_fail_on = None


def _on_event(event):
    deadline = time.perf_counter() + _hold_s
    while time.perf_counter() < deadline:
        pass  # busy wait: a sleep would give up the GIL and blur the measurement
    if event == _fail_on:
        raise RuntimeError("e2e calibration: deliberate failure")


def script_load(settings):
    global _hold_s, _fail_on
    _hold_s = obs.obs_data_get_int(settings, "hold_ms") / 1000.0
    name = obs.obs_data_get_string(settings, "fail_on_event")
    _fail_on = getattr(obs, "OBS_FRONTEND_EVENT_" + name) if name else None
    obs.obs_frontend_add_event_callback(_on_event)
