"""The naive baseline as an OBS script: a synchronous ``requests.post`` inside every callback.

Benchmark only; never ship this. It reports the same events as ailicia_obs.py
(scene switches, stream start/stop with join and leave, sources shown or hidden,
hotkey triggers) the way a first attempt would: it calls the API on whatever
OBS thread delivered the event and waits for the answer. At unload it asks
ai_licia to leave chat, as an auto-leave would, also synchronously.

Settings (as ailicia_obs.py names them): ``api_base_url``, ``api_key``, ``channel``.
Its file name differs from every other script's: OBS imports scripts by base name.
"""

import obspython as obs
import requests

TIMEOUT_S = 30.0
HOTKEY_NAME = "bench_naive_trigger_{}"
PROMPTS = {1: "Hype up chat with me!", 2: "Roast me gently.", 3: "Welcome everyone."}

_config = {"url": "", "key": "", "channel": ""}
_hotkeys = []


def _send(method, path, content=None):
    body = None
    if content is not None:
        body = {"eventType": "GAME_EVENT", "data": {"channelName": _config["channel"], "content": content}}
    try:
        requests.request(
            method,
            _config["url"] + path,
            json=body,
            timeout=TIMEOUT_S,
            headers={"Authorization": "Bearer " + _config["key"]},
        )
    except requests.RequestException:
        pass


def _current_scene_name():
    scene = obs.obs_frontend_get_current_scene()
    try:
        return obs.obs_source_get_name(scene) if scene is not None else ""
    finally:
        if scene is not None:
            obs.obs_source_release(scene)


def on_frontend_event(event):
    if event == obs.OBS_FRONTEND_EVENT_SCENE_CHANGED:
        _send("POST", "/v1/events", f"Streamer switched to the '{_current_scene_name()}' scene")
    elif event == obs.OBS_FRONTEND_EVENT_STREAMING_STARTED:
        _send("POST", "/v1/streams/" + _config["channel"])
        _send("POST", "/v1/events", "Stream started")
    elif event == obs.OBS_FRONTEND_EVENT_STREAMING_STOPPED:
        _send("POST", "/v1/events", "Stream ended")
        _send("DELETE", "/v1/streams/" + _config["channel"])
    elif event == obs.OBS_FRONTEND_EVENT_FINISHED_LOADING:
        _watch_scenes()


def on_item_visible(calldata):
    item = obs.calldata_sceneitem(calldata, "item")
    name = obs.obs_source_get_name(obs.obs_sceneitem_get_source(item))
    shown = "is now shown on" if obs.calldata_bool(calldata, "visible") else "was hidden from"
    _send("POST", "/v1/events", f"'{name}' {shown} the stream")


def _watch_scenes():
    scenes = obs.obs_frontend_get_scenes() or []
    try:
        for scene in scenes:
            # OBS drops a script's signal connections itself when it unloads it.
            obs.signal_handler_connect(obs.obs_source_get_signal_handler(scene), "item_visible", on_item_visible)
    finally:
        if scenes:
            obs.source_list_release(scenes)


def _trigger(slot):
    def on_hotkey(pressed):
        if pressed:
            _send("POST", "/v1/events/generations", PROMPTS[slot])

    return on_hotkey


def script_description():
    return "Benchmark baseline (not the product): calls the ai_licia API synchronously in OBS callbacks."


def script_load(settings):
    _config["url"] = obs.obs_data_get_string(settings, "api_base_url").rstrip("/")
    _config["key"] = obs.obs_data_get_string(settings, "api_key")
    _config["channel"] = obs.obs_data_get_string(settings, "channel")
    obs.obs_frontend_add_event_callback(on_frontend_event)
    for slot in PROMPTS:
        callback = _trigger(slot)
        obs.obs_hotkey_register_frontend(HOTKEY_NAME.format(slot), f"naive trigger {slot}", callback)
        _hotkeys.append(callback)


def script_unload():
    _send("DELETE", "/v1/streams/" + _config["channel"])
    obs.obs_frontend_remove_event_callback(on_frontend_event)
    while _hotkeys:
        obs.obs_hotkey_unregister(_hotkeys.pop())
