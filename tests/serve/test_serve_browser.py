"""The page in a real browser: Debian's headless Chromium, driven by Selenium, against uvicorn on 127.0.0.1.

A stroke drawn on the canvas with the mouse must bring the server's class for that drawing,
the input as the network sees it, and the feature maps of the four conv and pool layers.
"""
import base64
import os

import pytest
from serve_helpers import digit_network, make_client

from scratchcnn.serve import ServerThread, create_app

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                              "apt-get install chromium chromium-driver"),
    pytest.mark.slow,
]
webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _canvas_png(driver):
    url = driver.execute_script("return document.getElementById('canvas').toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def test_drawing_a_digit_shows_the_class_the_input_and_the_feature_maps(browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    network = digit_network()
    app = create_app(network)
    with ServerThread(app) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 20)
        canvas = wait.until(lambda d: d.find_element(By.ID, "canvas") if d.find_element(By.ID, "canvas")
                            .is_displayed() else None)
        # A '7': across the top, then down to the lower left (offsets from the canvas's centre).
        actions = ActionChains(browser).move_to_element_with_offset(canvas, -70, -90).click_and_hold()
        for dx, dy in [(35, 0)] * 4 + [(-12, 30)] * 6:
            actions.move_by_offset(dx, dy).pause(0.03)
        actions.release().perform()

        expected = make_client(app).post("/api/predict", files={"file": ("d.png", _canvas_png(browser))}).json()
        # The last answer the page shows is for the finished drawing.
        wait.until(lambda d: d.find_element(By.ID, "predicted-class").text == expected["class"])
        maps = wait.until(lambda d: [img for img in d.find_elements(By.CSS_SELECTOR, "img.feature-map")
                                     if d.execute_script("return arguments[0].naturalWidth", img) > 0] or None)
        assert len(maps) == 4
        captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#feature-maps figcaption")]
        assert captions[0] == "0: ConvLayer 32\u00d728\u00d728" and captions[3] == "3: PoolingLayer 64\u00d77\u00d77"
        seen = browser.find_element(By.ID, "seen-input")
        assert seen.is_displayed() and browser.execute_script("return arguments[0].naturalWidth", seen) == 28
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar-row")) == 10
        assert browser.find_element(By.CSS_SELECTOR, "#bars .top .bar-label").text == expected["class"]
        assert browser.find_element(By.ID, "error").is_displayed() is False
        # It updated while the stroke went on, throttled: several requests, 150 ms apart from send to send
        # (the fetches start after the canvas's PNG is made, which takes a varying few milliseconds).
        starts = browser.execute_script("return performance.getEntriesByType('resource')"
                                        ".filter(e => e.name.endsWith('/api/activations')).map(e => e.startTime)")
        assert len(starts) >= 2 and min(b - a for a, b in zip(starts, starts[1:])) >= 120
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors  # no script error, no blocked resource (the Content-Security-Policy)
