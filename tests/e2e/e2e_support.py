"""What the e2e scenarios use: a sandbox + OBS pair, the sandbox's traffic, OBS's log.

:func:`open_scenario` starts the sandbox (in this process) and OBS pointed at it.

:class:`Traffic` looks at the sandbox's requests from a mark on and waits for
them (every wait has a timeout and says what it waited for, with the traffic
seen, when it fails). :func:`log_problems` lists what must never be in an OBS
log: a Python failure, a traceback, the API key.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from obs_harness import ObsSession, trigger_hotkey_settings

CHANNEL = "mychannel"
JOIN_PATH = f"/v1/streams/{CHANNEL}"
CONTEXT_PATH = "/v1/events"
GENERATION_PATH = "/v1/events/generations"

TRIGGER_PROMPTS = {1: "E2E prompt one", 2: "E2E prompt two", 3: "E2E prompt three"}


def distinctive_key(label: str = "key") -> str:
    """An API key no log line could contain by accident, so a grep for it means a leak."""
    return f"e2e-{label}-{secrets.token_hex(12)}"


def ailicia_settings(api_url: str, api_key: str, **overrides: Any) -> Dict[str, Any]:
    """ailicia_obs.py settings for a test: fast debounce, a 3 s reaction cooldown, three prompts."""
    settings: Dict[str, Any] = {
        "api_key": api_key,
        "channel": CHANNEL,
        "api_base_url": api_url,
        "scene_debounce_ms": 300,
        "generation_cooldown_s": 3,
        "dock_port": 0,  # the dock on a free port; a test that talks to it passes its own
    }
    settings.update({f"trigger_{n}_prompt": prompt for n, prompt in TRIGGER_PROMPTS.items()})
    settings.update(overrides)
    return settings


# --- requests -------------------------------------------------------------------


def content(request: Any) -> str:
    body = request.body
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return str(body["data"].get("content", ""))
    return ""


def is_join(r: Any) -> bool:
    return r.method == "POST" and r.path == JOIN_PATH


def is_leave(r: Any) -> bool:
    return r.method == "DELETE" and r.path == JOIN_PATH


def is_context(r: Any) -> bool:
    return r.method == "POST" and r.path == CONTEXT_PATH


def is_generation(r: Any) -> bool:
    return r.method == "POST" and r.path == GENERATION_PATH


def context_with(*needles: str) -> Callable[[Any], bool]:
    """A predicate: a context request whose content contains every needle."""
    return lambda r: is_context(r) and all(n in content(r) for n in needles)


def describe(requests: Sequence[Any]) -> str:
    if not requests:
        return "  (no requests)"
    return "\n".join(f"  {r.method} {r.path} -> {r.status} [{r.auth}] {content(r)[:90]!r}" for r in requests)


def is_listener_own(r: Any) -> bool:
    """The live-events listener's stream (a connection, not a request ai_licia acts on).

    The GET /v1/characters the listener makes at each connect is counted: it looks like a connection test.
    """
    return r.method == "GET" and r.path == "/v1/eventsub/stream"


class Traffic:
    """The sandbox's requests from the moment this was made (without the listener's own, unless ``listener``)."""

    def __init__(self, sandbox: Any, *, listener: bool = False) -> None:
        self.sandbox = sandbox
        self.start = len(sandbox.requests)
        self.listener = listener

    def all(self) -> List[Any]:
        return [r for r in self.sandbox.requests[self.start :] if self.listener or not is_listener_own(r)]

    def matching(self, predicate: Callable[[Any], bool]) -> List[Any]:
        return [r for r in self.all() if predicate(r)]

    def wait(
        self, predicate: Callable[[Any], bool], *, count: int = 1, timeout: float = 10.0, what: str = ""
    ) -> List[Any]:
        """Wait until ``count`` requests match ``predicate``; returns the matches."""
        ok = self.sandbox.wait_for(
            lambda reqs: sum(1 for r in reqs[self.start :] if self._counts(r, predicate)) >= count, timeout
        )
        if not ok:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {count} x {what or 'matching request'}; "
                f"the sandbox saw since the mark:\n{describe(self.all())}"
            )
        return self.matching(predicate)

    def stays_below(self, predicate: Callable[[Any], bool], count: int, *, seconds: float) -> bool:
        """True if fewer than ``count`` requests match for the next ``seconds`` (a bounded negative wait)."""
        return not self.sandbox.wait_for(
            lambda reqs: sum(1 for r in reqs[self.start :] if self._counts(r, predicate)) >= count, seconds
        )

    def _counts(self, r: Any, predicate: Callable[[Any], bool]) -> bool:
        return (self.listener or not is_listener_own(r)) and predicate(r)

    def settle(self, *, quiet_s: float = 1.0, timeout: float = 15.0) -> None:
        """Wait until no new request arrived for ``quiet_s`` and none is in flight."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.sandbox.requests), time.monotonic()
        while True:
            now = len(self.sandbox.requests)
            if now != seen or self.sandbox.in_flight:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the sandbox traffic did not settle within {timeout:g} s:\n{describe(self.all())}"
                )
            time.sleep(0.05)

    def describe(self) -> str:
        return describe(self.all())


# --- the OBS log --------------------------------------------------------------------

_PYTHON_TROUBLE = ("Python failure", "Traceback (most recent call last)")
_LEAKS = re.compile(r"Number of memory leaks: (\d+)")


def log_problems(text: str, secret_values: Sequence[str] = ()) -> List[str]:
    """Lines of an OBS log that must not be there: Python failures, tracebacks, any secret."""
    problems = []
    for line in text.splitlines():
        if any(marker in line for marker in _PYTHON_TROUBLE):
            problems.append(line)
        elif any(s and s in line for s in secret_values):
            problems.append("(a line contains the API key; not shown)")
    return problems


def memory_leaks(text: str) -> Optional[int]:
    """The count of OBS's last ``Number of memory leaks`` line (None before OBS exited)."""
    found = _LEAKS.findall(text)
    return int(found[-1]) if found else None


def ailicia_lines(text: str) -> List[str]:
    """The lines our script wrote to the OBS log."""
    return [line for line in text.splitlines() if "ailicia_obs.py]" in line]


# --- a scenario: the sandbox and OBS ----------------------------------------------


@dataclass
class Scenario:
    """A sandbox API and an OBS whose ailicia_obs.py talks to it."""

    obs: ObsSession
    sandbox: Any
    api_key: str
    secrets: List[str] = field(default_factory=list)

    def diagnostics(self) -> str:
        return f"{self.obs.diagnostics()}\n--- sandbox traffic (all)\n{describe(self.sandbox.requests)}"


@contextlib.contextmanager
def open_scenario(
    workdir: Path,
    *,
    sandbox: Optional[Dict[str, Any]] = None,
    settings: Optional[Dict[str, Any]] = None,
    script_key: Optional[str] = None,
    **session: Any,
) -> Iterator[Scenario]:
    """Start a sandbox, then OBS with ailicia_obs.py pointed at it; stop both on exit.

    ``script_key`` gives the script a key the sandbox does not know (default: the right key).
    """
    from ailicia_core.sandbox import Sandbox, SandboxConfig

    api_key = distinctive_key()
    config = {"generation_window_s": 3.0, **(sandbox or {})}
    api = Sandbox(SandboxConfig(port=0, api_keys=(api_key,), quiet=True, **config)).start()
    given_key = script_key or api_key
    obs = ObsSession(
        workdir,
        ailicia_settings={**ailicia_settings(api.url, given_key), **trigger_hotkey_settings(), **(settings or {})},
        **session,
    )
    scenario = Scenario(obs, api, api_key, secrets=sorted({api_key, given_key}))
    try:
        obs.start()
        yield scenario
    finally:
        try:
            obs.close()
        finally:
            api.stop()
        # Killing anything at teardown is a failure of the scenario, not a detail.
        assert not obs.problems, f"{obs.problems}\n{obs.diagnostics()}"
