"""The dock and the overlay in real headless Chromium, against an engine that talks to the sandbox.

What a streamer does in the dock: watch a scene switch appear, click Trigger 1,
type a line of context; and the overlay showing what ai_licia said. The
screenshots in ``docs/`` (shown in the README) are taken here with AILICIA_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from browser_support import DOCK_WINDOW, IN_CI

from ailicia_core import events as ev
from tests.support import dock_fixtures
from tests.support.dock_fixtures import WAIT_S, serving

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    if IN_CI:  # CI installs requirements-dev.txt: a missing selenium is a failure there
        raise
    pytest.skip("selenium is not installed: pip install -r requirements-dev.txt", allow_module_level=True)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def shot_path(name: str, tmp_path: Path) -> str:
    """Where a screenshot goes: ``docs/`` when AILICIA_SCREENSHOTS=1 (to refresh the README's), else a tmp folder.

    So that running the suite leaves the checkout as it was.
    """
    return str((DOCS if os.environ.get("AILICIA_SCREENSHOTS") == "1" else tmp_path) / name)


#: The longest a scene switch may take to show up in the feed, counted from the sandbox receiving it.
FEED_WITHIN_S = 1.0
OVERLAY_WINDOW = (960, 400)


# The shared fixtures (pytest finds a fixture by its module attribute).
sandbox = dock_fixtures.sandbox
engine = dock_fixtures.engine


@pytest.fixture
def dock(engine):
    with serving(engine) as server:
        yield server


@pytest.fixture
def page(browser, dock):
    """The dock page, open and showing its first state; no script error or blocked load afterwards."""
    browser.set_window_size(*DOCK_WINDOW)
    browser.get(dock.url("/dock"))
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_element(By.ID, "live").text not in ("", "…"))
    yield browser
    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []


def feed_texts(browser):
    return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#feed li")]


def posts(sandbox, path):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == path]


def test_a_scene_switch_appears_in_the_feed_within_a_second(page, engine, sandbox):
    engine.handle(ev.SceneSwitched("Gameplay"))
    assert sandbox.wait_for(lambda rs: any(r.path == "/v1/events" for r in rs), WAIT_S)
    WebDriverWait(page, FEED_WITHIN_S, poll_frequency=0.05).until(
        lambda b: any("'Gameplay' scene" in text for text in feed_texts(b))
    )
    newest = page.find_element(By.CSS_SELECTOR, "#feed li")
    assert "Context" in newest.text and "sent" in newest.text


def test_clicking_trigger_1_sends_a_generation_to_the_sandbox(page, engine, sandbox):
    button = page.find_element(By.ID, "trigger-1")
    assert button.text.startswith("Trigger 1")
    button.click()
    assert sandbox.wait_for(lambda rs: posts(sandbox, "/v1/events/generations"), WAIT_S)
    assert posts(sandbox, "/v1/events/generations")[0].body["data"]["content"] == engine.settings.trigger_prompt(1)
    WebDriverWait(page, WAIT_S).until(lambda b: any("Reaction" in text for text in feed_texts(b)))


def test_typing_a_line_of_context_sends_it(page, sandbox):
    box = page.find_element(By.ID, "context-text")
    box.send_keys("Boss fight in five minutes, remind chat to hydrate")
    page.find_element(By.ID, "context-send").click()
    assert sandbox.wait_for(lambda rs: posts(sandbox, "/v1/events"), WAIT_S)
    assert (
        posts(sandbox, "/v1/events")[0].body["data"]["content"] == "Boss fight in five minutes, remind chat to hydrate"
    )
    WebDriverWait(page, WAIT_S).until(lambda b: b.find_element(By.ID, "context-text").get_attribute("value") == "")
    assert page.find_element(By.ID, "notice").text == "Sent to ai_licia's context."


def test_the_pause_button_pauses_and_resumes_automatic_sending(page, engine):
    page.find_element(By.ID, "pause").click()
    WebDriverWait(page, WAIT_S).until(lambda b: b.find_element(By.ID, "pause").text == "Resume automatic")
    assert engine.automatic_paused
    assert "Automatic sending paused" in page.find_element(By.ID, "paused").text
    page.find_element(By.ID, "pause").click()
    WebDriverWait(page, WAIT_S).until(lambda b: b.find_element(By.ID, "pause").text == "Pause automatic")
    assert not engine.automatic_paused


def test_the_overlay_shows_what_ai_licia_said_then_fades(browser, dock, engine, tmp_path):
    browser.set_window_size(*OVERLAY_WINDOW)
    browser.get(dock.url("/overlay"))
    WebDriverWait(browser, WAIT_S).until(lambda b: b.execute_script("return document.readyState") == "complete")
    # No EventSub stream here: what ai_licia said is put in the feed directly, as the listener puts it.
    engine.activity.add(time.time(), "ai_message", "GG chat! That clutch was unreal, who clipped it?", "said")
    caption = browser.find_element(By.ID, "caption")
    WebDriverWait(browser, WAIT_S).until(lambda b: "shown" in caption.get_attribute("class"))
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background in ("rgba(0, 0, 0, 0)", "transparent")
    WebDriverWait(browser, WAIT_S).until(
        lambda b: b.execute_script(
            "return [...document.querySelectorAll('#caption .word')].every(w => getComputedStyle(w).opacity === '1')"
        )
    )
    assert (
        caption.text.replace("\n", " ").split() == "ai_licia GG chat! That clutch was unreal, who clipped it?".split()
    )
    # The page is transparent; for the picture, a dark backdrop stands in for the stream behind it.
    browser.execute_cdp_cmd(
        "Emulation.setDefaultBackgroundColorOverride", {"color": {"r": 38, "g": 52, "b": 74, "a": 1}}
    )
    browser.save_screenshot(shot_path("overlay.png", tmp_path))
    browser.execute_cdp_cmd("Emulation.setDefaultBackgroundColorOverride", {})
    WebDriverWait(browser, 15.0).until(lambda b: "shown" not in caption.get_attribute("class"))


def test_a_screenshot_of_the_dock_in_use(page, engine, sandbox, tmp_path):
    engine.handle(ev.StreamStarted("Just Chatting"))
    assert sandbox.wait_for(lambda rs: any(r.method == "POST" and "/streams/" in r.path for r in rs), WAIT_S)
    engine.handle(ev.SceneSwitched("Gameplay"))
    engine.handle(ev.TriggerPressed(1))
    engine.test_connection()
    assert engine.wait_idle(WAIT_S)
    engine.activity.add(time.time(), "ai_message", "Let's gooo! Chat, drop your predictions for this boss.", "said")
    WebDriverWait(page, WAIT_S).until(lambda b: len(feed_texts(b)) >= 6)
    WebDriverWait(page, WAIT_S).until(lambda b: "Live" in b.find_element(By.ID, "live").text)
    WebDriverWait(page, WAIT_S).until(lambda b: b.find_element(By.ID, "character").text.startswith("Character: "))
    page.save_screenshot(shot_path("dock.png", tmp_path))
    width = page.execute_script("return document.documentElement.clientWidth")
    assert 300 <= width <= 400
    overflow = page.execute_script("return document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow  # nothing sticks out sideways at dock width
