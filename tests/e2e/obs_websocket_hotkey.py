"""Fires an OBS hotkey through obs-websocket 5, as Stream Deck or Streamer.bot would.

Run as ``python obs_websocket_hotkey.py PORT PASSWORD HOTKEY_NAME`` with ``websocket-client``
importable (the release-zip test puts the zip's vendored copy on the path). It connects to
``ws://127.0.0.1:PORT``, answers the Hello with an Identify (authenticated as the protocol
says: base64(sha256(base64(sha256(password + salt)) + challenge))), sends one
``TriggerHotkeyByName`` request and prints OBS's requestStatus as JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

import websocket

HELLO, IDENTIFY, IDENTIFIED, REQUEST, REQUEST_RESPONSE = 0, 1, 2, 6, 7


def _sha256_b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def authentication(password: str, salt: str, challenge: str) -> str:
    return _sha256_b64(_sha256_b64(password + salt) + challenge)


def receive(ws: websocket.WebSocket, op: int) -> dict:
    while True:
        message = json.loads(ws.recv())
        if message.get("op") == op:
            return message["d"]


def trigger(port: int, password: str, hotkey: str) -> dict:
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}", timeout=10, subprotocols=["obswebsocket.json"])
    try:
        hello = receive(ws, HELLO)
        identify: dict = {"rpcVersion": 1}
        if "authentication" in hello:
            auth = hello["authentication"]
            identify["authentication"] = authentication(password, auth["salt"], auth["challenge"])
        ws.send(json.dumps({"op": IDENTIFY, "d": identify}))
        receive(ws, IDENTIFIED)
        request = {
            "requestType": "TriggerHotkeyByName",
            "requestId": "ailicia-e2e",
            "requestData": {"hotkeyName": hotkey},
        }
        ws.send(json.dumps({"op": REQUEST, "d": request}))
        return receive(ws, REQUEST_RESPONSE)["requestStatus"]
    finally:
        ws.close()


if __name__ == "__main__":
    print(json.dumps(trigger(int(sys.argv[1]), sys.argv[2], sys.argv[3])))
