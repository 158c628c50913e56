"""Timing probe called just *after* ailicia_obs's frontend callback (see e2e_probe).

It is listed before ailicia_obs in the scene collection: OBS 29 calls frontend
callbacks in reverse registration order. On unload (quit, reload, collection
switch) it writes all measurements to the ``timings_path`` setting.
"""

import e2e_probe
import obspython as obs

_path = ""


def script_description():
    return "e2e test probe: stamps each frontend event after ailicia_obs handled it."


def script_load(settings):
    global _path
    _path = obs.obs_data_get_string(settings, "timings_path")
    obs.obs_frontend_add_event_callback(e2e_probe.on_exit)


def script_unload():
    e2e_probe.dump(_path)
