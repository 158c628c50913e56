"""Timing probe called just *before* ailicia_obs's frontend callback (see e2e_probe)."""

import e2e_probe
import obspython as obs


def script_description():
    return "e2e test probe: stamps each frontend event before ailicia_obs handles it."


def script_load(settings):
    obs.obs_frontend_add_event_callback(e2e_probe.on_enter)


def script_unload():
    pass  # OBS removes the script's callbacks itself
