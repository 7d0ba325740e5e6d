"""The pages in a real browser: headless Chromium driven by Selenium, loading them from ``file://``.

summarize.py's page: it loads without a console error and without a network request, has one shot element
per shot of its JSON, a click (or Enter / Space) on a shot moves the player to the shot's start, the toggle
plays only the selected shots (skipping the gap between two of them, stopping after the last), and its
screenshot is not blank. inference.py's report.html: it loads without an error and its pictures load.

Needs ``selenium`` and Chromium with its driver (Debian: ``apt-get install chromium chromium-driver``);
skipped where either is missing. The player plays a short generated H.264 clip (VP9 WebM where this
Chromium cannot play H.264).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import torch_state_restored
from tests.test_pages import SELECTED, hand_made_record, write_scene_clip

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--mute-audio", "--window-size=1200,1000")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    binary = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                   if (found := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("no Chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="csta-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except WebDriverException as error:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium does not start here: {error.msg or error}")
    driver.set_script_timeout(20)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float = 10.0, *args):
    """Poll a JavaScript expression (``return ...``) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value or time.monotonic() > deadline:
            assert value, f"timed out waiting for: {script}"
            return value
        time.sleep(0.05)


def errors_in_console(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requests_made(driver) -> list[str]:
    return driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"
                                 ".concat(performance.getEntriesByType('navigation').map(e => e.name))")


def assert_not_blank(png: bytes, target: Path) -> None:
    from PIL import Image

    target.write_bytes(png)
    pixels = np.asarray(Image.open(target).convert("RGB")).reshape(-1, 3)
    assert pixels.shape[0] > 100_000
    assert len(np.unique(pixels, axis=0)) > 50 and pixels.std() > 10, "the screenshot is (nearly) one colour"


@pytest.fixture(scope="module")
def summary_page(browser, tmp_path_factory):
    """A clip, its JSON record and its page in another folder (the page refers to ``../clips/...``)."""
    from video.page import write_summary_page

    root = tmp_path_factory.mktemp("summary_page")
    (root / "clips").mkdir()
    browser.get("data:text/html,<video></video>")
    h264 = browser.execute_script("return document.createElement('video')"
                                  ".canPlayType('video/mp4; codecs=\"avc1.640015\"')")
    clip = write_scene_clip(root / "clips" / ("scenes.mp4" if h264 == "probably" else "scenes.webm"))
    record = hand_made_record(clip)
    (root / "out").mkdir()
    (root / "out" / "scenes.json").write_text(json.dumps(record))
    write_summary_page(record, root / "out" / "scenes.html", clip)
    browser.get((root / "out" / "scenes.html").as_uri())
    wait_for(browser, "return document.getElementById('player').readyState >= 1")
    return record, root


def current_time(driver) -> float:
    return driver.execute_script("return document.getElementById('player').currentTime")


def test_the_summary_page_loads_from_file_without_errors_or_network(browser, summary_page):
    record, _ = summary_page
    assert errors_in_console(browser) == []
    requests = requests_made(browser)
    assert requests and all(url.startswith(("file:", "data:")) for url in requests), requests
    assert browser.execute_script("return document.querySelectorAll('[data-shot]').length") == len(record["shots"])
    assert browser.execute_script("return document.getElementById('player').error") is None
    duration = browser.execute_script("return document.getElementById('player').duration")
    assert duration == pytest.approx(record["duration_s"], abs=0.1)


def test_a_shot_clicked_or_pressed_moves_the_player_to_its_start(browser, summary_page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    record, _ = summary_page
    for index, how in ((3, "click"), (0, "click"), (4, Keys.ENTER), (2, Keys.SPACE)):
        button = browser.find_element(By.CSS_SELECTOR, f'[data-shot="{index}"]')
        if how == "click":
            button.click()
        else:
            browser.execute_script("arguments[0].focus()", button)
            assert browser.switch_to.active_element == button          # a button: focusable
            button.send_keys(how)
        start = record["shots"][index]["start_s"]
        wait_for(browser, "return Math.abs(document.getElementById('player').currentTime - arguments[0]) < 0.01",
                 5, start)
        wait_for(browser, "return arguments[0].classList.contains('current')", 5, button)
    assert errors_in_console(browser) == []


def test_the_toggle_plays_only_the_selected_shots(browser, summary_page):
    from selenium.webdriver.common.by import By

    record, _ = summary_page
    shots = record["shots"]
    first, second, last = (shots[i] for i in SELECTED)          # a gap (shot 2) between the first two
    browser.execute_script("window.cstaPage.seek(0)")
    toggle = browser.find_element(By.ID, "only-selected")
    assert toggle.get_attribute("type") == "checkbox" and not toggle.is_selected()
    toggle.click()                                                # outside a selected shot: to the next one
    assert toggle.is_selected()
    assert current_time(browser) == pytest.approx(first["start_s"], abs=0.01)

    browser.execute_script("""
        const video = document.getElementById('player');
        window.seen = [];
        const record = () => { window.seen.push(video.currentTime); if (!video.paused) requestAnimationFrame(record); };
        video.addEventListener('timeupdate', () => window.seen.push(video.currentTime));
        window.cstaPage.seek(arguments[0]);
        video.muted = true;
        video.play().then(() => requestAnimationFrame(record));
    """, first["end_s"] - 0.25)
    wait_for(browser, "return document.getElementById('player').currentTime > arguments[0]", 10,
             second["start_s"] + 0.1)
    seen = browser.execute_script("return window.seen")
    in_gap = [t for t in seen if first["end_s"] + 0.15 < t < second["start_s"] - 0.05]
    assert not in_gap, f"played the unselected shot 2 at {in_gap[:5]}"
    assert any(first["end_s"] - 0.25 <= t < first["end_s"] for t in seen)      # it played up to the gap

    browser.execute_script("window.cstaPage.seek(arguments[0])", last["end_s"] - 0.2)   # the end of the last one
    wait_for(browser, "return document.getElementById('player').paused", 10)
    assert current_time(browser) == pytest.approx(first["start_s"], abs=0.01)      # back to the first, paused

    toggle.click()                                                # off: any time may play
    middle = (shots[2]["start_s"] + shots[2]["end_s"]) / 2
    browser.execute_script("window.cstaPage.seek(arguments[0])", middle)
    time.sleep(0.3)
    assert current_time(browser) == pytest.approx(middle, abs=0.01)
    assert errors_in_console(browser) == []


def test_the_summary_page_screenshot_is_not_blank(browser, summary_page, tmp_path):
    _, root = summary_page
    browser.execute_script("window.cstaPage.seek(arguments[0])", 2.0)
    time.sleep(0.3)
    assert_not_blank(browser.get_screenshot_as_png(), tmp_path / "summary_page.png")


def test_the_results_page_loads_with_its_pictures(browser, finished_run, tmp_path):
    import inference

    out = tmp_path / "inference.json"
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()):
        assert inference.main([*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir),
                               "--results-dir", str(finished_run.results_dir), "--device", "cpu", "--splits", "1",
                               "--out", str(out)]) == 0
    browser.get((tmp_path / "report.html").as_uri())
    wait_for(browser, "return document.readyState === 'complete'")
    assert errors_in_console(browser) == []
    requests = requests_made(browser)
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    images = browser.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(images) == 2 and all(done and width > 0 for done, width in images), images
    assert_not_blank(browser.get_screenshot_as_png(), tmp_path / "report.png")
