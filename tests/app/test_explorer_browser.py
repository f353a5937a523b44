"""The explorer in a real browser: `interp explore` on the tiny workspace (subprocess, free port, 127.0.0.1), every
page opened in headless Chromium through Selenium + chromedriver, waited on until Streamlit has finished running,
screenshotted, and checked for its title and for the absence of exceptions and error alerts.

Skips (with the reason) only where chromium / chromedriver cannot be found; CI installs them (.ci/run).
Screenshots go to $INTERP_SCREENSHOTS when set (else the test's tmp folder).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from apps.explorer.app import PAGES

pytestmark = pytest.mark.slow
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if p
                 and os.path.exists(p)), None)
DRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--window-size=1400,1000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(workspace):
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("chromium and chromedriver not found (Debian: apt-get install chromium chromium-driver)")
    port = free_port()
    interp = Path(sys.executable).with_name("interp")
    exe = [str(interp)] if interp.exists() else [sys.executable, "-m", "apps.cli"]
    cmd = [*exe, "explore", "--workspace", str(workspace), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"interp explore did not come up: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.5)
        yield url
    finally:  # the server runs in its own session: end the whole group, nothing may outlive the test
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        opts.add_argument(f)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_rendered(driver, title: str, timeout: float = 120) -> None:
    """Until the app is connected, its script has finished running, and the page's h1 shows `title`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d) -> bool:
        apps = d.find_elements(By.CSS_SELECTOR, '[data-testid="stApp"]')
        if not apps or apps[0].get_attribute("data-test-script-state") != "notRunning":
            return False
        h1 = [e.text for e in d.find_elements(By.CSS_SELECTOR, "h1")]
        return title in h1 and not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidgetRunningIcon"]')

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(done)
    time.sleep(1.0)  # let plotly charts lay out before the screenshot
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(done)


@pytest.mark.parametrize("path,title", [(p, t) for p, t, _ in PAGES])
def test_page_renders_in_chromium(server, browser, path, title, tmp_path):
    from selenium.webdriver.common.by import By

    slug = "" if path == PAGES[0][0] else Path(path).stem
    browser.get(f"{server}/{slug}")
    wait_rendered(browser, title)
    shots = Path(os.environ.get("INTERP_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"explorer-{Path(path).stem}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    errors = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"], '
                                                    '[data-testid="stAlertContentError"]')
    assert not errors, [e.text for e in errors]
    heading = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h1")]
    assert title in heading, heading
