"""The naive way, for the in-process baselines: one synchronous ``requests.post`` per event.

This is what a script does when it calls the API inside the OBS callback: no
session, no worker, no pacing; the caller waits for the answer.
``bench_naive_obs.py`` is the same idea as a loadable OBS script.
"""

from __future__ import annotations

from typing import Optional

import requests

from .common import API_KEY, CHANNEL, CONTEXT_PATH, GENERATION_PATH

TIMEOUT_S = 30.0


def post_context(base_url: str, content: str) -> Optional[int]:
    """POST /v1/events and wait for the answer; its status (None if the request failed)."""
    return _post(base_url + CONTEXT_PATH, content)


def post_generation(base_url: str, content: str) -> Optional[int]:
    """POST /v1/events/generations and wait for the answer; its status."""
    return _post(base_url + GENERATION_PATH, content)


def _post(url: str, content: str) -> Optional[int]:
    body = {"eventType": "GAME_EVENT", "data": {"channelName": CHANNEL, "content": content}}
    try:
        return requests.post(
            url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=TIMEOUT_S
        ).status_code
    except requests.RequestException:
        return None
