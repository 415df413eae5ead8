"""Makes docs/serve.png: the page of `scratchcnn serve` in headless Chromium, a digit drawn on its canvas.

It trains mnist_convnet for two epochs on 4000 MNIST training images (Adam, lr 1e-3, batch 64: well
under a minute on two cores), serves it on 127.0.0.1 and a free port, draws a '3' on the canvas with
the mouse through Selenium, waits for the page's answer and saves the screenshot. It needs Debian's
chromium and chromium-driver and the test extra (pip install -e ".[test]"). Run from the repository root:

    python docs/make_serve_screenshot.py
"""
import math
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from scratchcnn import losses, zoo  # noqa: E402
from scratchcnn.datasets import mnist  # noqa: E402
from scratchcnn.serve import ServerThread, create_app  # noqa: E402


def train_digits(count=4000, epochs=2, seed=0):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x = x_train[:count, None].astype(np.float32) / 255                 # (N, 1, 28, 28)
    y = np.eye(10, dtype=np.float32)[y_train[:count]]
    network = zoo.mnist_convnet()
    network.metadata = {"input_shape": [1, 28, 28], "class_names": [str(i) for i in range(10)]}
    network.train(x, y, epochs, 1e-3, losses.categorical_crossentropy, losses.categorical_crossentropy_derivative,
                  log_file=None, batch_size=64, optimizer="adam", seed=seed, verbose=0)
    accuracy = np.mean(np.argmax(network.predict(x_test[:2000, None].astype(np.float32) / 255), 1) == y_test[:2000])
    print(f"mnist_convnet, {epochs} epochs on {count} images: test accuracy {accuracy:.3f} (2000 test images)")
    return network


def three(steps=24):
    """Points of a hand-drawn '3' on the 280x280 canvas: two arcs meeting at the middle."""
    top = [(140 + 52 * math.cos(t), 92 + 48 * math.sin(t)) for t in np.linspace(math.radians(200), math.radians(450), steps)]
    bottom = [(140 + 58 * math.cos(t), 194 + 52 * math.sin(t))
              for t in np.linspace(math.radians(270), math.radians(515), steps)]
    return [(round(x), round(y)) for x, y in top + bottom]


def draw(driver, canvas, points):
    from selenium.webdriver.common.action_chains import ActionChains

    x0, y0 = points[0]
    actions = ActionChains(driver).move_to_element_with_offset(canvas, x0 - 140, y0 - 140).click_and_hold()
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        actions.move_by_offset(xb - xa, yb - ya)
    actions.release().perform()


def main(path=os.path.join(ROOT, "docs", "serve.png")):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    network = train_digits()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1240,900",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        with ServerThread(create_app(network)) as url:
            driver.get(url + "/")
            canvas = WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "canvas"))
            draw(driver, canvas, three())
            WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "img.feature-map")) == 4)
            time.sleep(1)  # the last throttled request, and the bars' transition
            shown = driver.find_element(By.ID, "predicted-class").text
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1240, height + 900 - driver.execute_script("return window.innerHeight"))
            driver.save_screenshot(path)
    finally:
        driver.quit()
    print(f"Drew a 3, the page says {shown}; wrote {path}")


if __name__ == "__main__":
    main()
