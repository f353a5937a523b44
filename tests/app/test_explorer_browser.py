"""The explorer in a real browser: `interp explore` on the tiny workspace (subprocess, free port, 127.0.0.1, started
from a temporary folder outside the repository), opened in headless Chromium through Selenium + chromedriver.

- every page: waited on until Streamlit has finished running, screenshotted, checked for its title and for the
  absence of exceptions and error alerts;
- the Overview page: the model, and the "Dictionaries" table with one row per dictionary (read from the grid's
  accessible table: st.dataframe draws a glide-data-grid canvas and mirrors the visible cells in a hidden
  role="grid" table);
- the Features page: a click on a row of the feature table (on the canvas, at the row-selection marker) opens that
  row's feature page and puts feature=N in the URL; reloading that URL reopens the same feature page;
- Streamlit's Deploy button is not shown (`interp explore` passes --client.toolbarMode minimal).

Skips (with the reason) only where chromium / chromedriver cannot be found; CI installs them (.ci/run).
Screenshots go to $INTERP_SCREENSHOTS when set (else the test's tmp folder).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from apps.explorer.app import PAGES

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if p
                 and os.path.exists(p)), None)
DRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--window-size=1400,1000"]
HEADER_PX, ROW_PX, MARKER_PX = 35, 35, 12
"""glide-data-grid geometry of st.dataframe: header and row heights, x of the row-selection marker column."""
DEPLOY = '[data-testid="stAppDeployButton"]'
"""Streamlit's Deploy button (what a plain `streamlit run` shows in the header's toolbar)."""


@pytest.fixture(scope="module")
def server(workspace, tmp_path_factory):
    """URL of `interp explore` on the workspace, run from a temporary folder (not the repository: the explorer
    must not depend on the working directory)."""
    from apps.explorer.launch import serving

    if CHROMIUM is None or DRIVER is None:
        pytest.skip("chromium and chromedriver not found (Debian: apt-get install chromium chromium-driver)")
    cwd = tmp_path_factory.mktemp("elsewhere")
    assert not cwd.resolve().is_relative_to(REPO)
    with serving(workspace, cwd, timeout=90) as url:
        yield url


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


def finished(d) -> bool:
    """Streamlit's script has finished running and no spinner of it is shown."""
    from selenium.webdriver.common.by import By

    apps = d.find_elements(By.CSS_SELECTOR, '[data-testid="stApp"]')
    return bool(apps) and apps[0].get_attribute("data-test-script-state") == "notRunning" and \
        not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidgetRunningIcon"]')


def wait_rendered(driver, title: str, timeout: float = 120) -> None:
    """Until the app is connected, its script has finished running, and the page's h1 shows `title`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d) -> bool:
        return finished(d) and title in [e.text for e in d.find_elements(By.CSS_SELECTOR, "h1")]

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(done)
    time.sleep(1.0)  # let plotly charts lay out before the screenshot
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(done)


def grid_rows(grid) -> list[dict[str, str]]:
    """The rows a st.dataframe shows (its accessible table: the visible rows only), as {column: text}."""
    from selenium.webdriver.common.by import By

    heads = [e.get_attribute("textContent") for e in grid.find_elements(By.CSS_SELECTOR, '[role="columnheader"]')]
    rows = []
    for row in grid.find_elements(By.CSS_SELECTOR, '[role="row"]'):
        cells = [c.get_attribute("textContent") for c in row.find_elements(By.CSS_SELECTOR, '[role="gridcell"]')]
        if cells:
            rows.append(dict(zip(heads, cells)))
    return rows


def wait_grid(driver, css: str, timeout: float = 60):
    """The st.dataframe under `css` once its accessible table holds cells."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'{css} [data-testid="stDataFrame"] [role="gridcell"]'))
    return driver.find_element(By.CSS_SELECTOR, f'{css} [data-testid="stDataFrame"]')


def h2(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "h2")]


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
    assert not browser.find_elements(By.CSS_SELECTOR, DEPLOY)


def test_overview_shows_model_and_dictionaries(server, browser, workspace):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/")
    wait_rendered(browser, "Overview")
    text = browser.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text
    assert "toy-gelu-s0" in text, text
    assert str(Path(workspace).resolve()) in text, text
    assert "Dictionaries" in [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h3")]
    rows = grid_rows(wait_grid(browser, ".st-key-dictionaries"))
    assert sorted(r["dictionary"] for r in rows) == ["sae-batchtopk", "sae-relu", "sae-topk", "snmf"], rows
    by_name = {r["dictionary"]: r for r in rows}
    assert by_name["sae-topk"]["features"] == "128" and by_name["sae-relu"]["features"] == "128", rows
    assert {"method", "L0", "R²"} <= set(rows[0]), rows[0]
    assert "Build steps" in [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h3")]


def test_no_deploy_button(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/")
    wait_rendered(browser, "Overview")
    assert browser.find_elements(By.CSS_SELECTOR, '[data-testid="stHeader"]')  # the header (and its toolbar) drew
    assert not browser.find_elements(By.CSS_SELECTOR, DEPLOY)
    buttons = [e.text for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stHeader"] button')]
    assert "Deploy" not in buttons, buttons


def test_click_feature_row_opens_feature_page_and_url_reopens_it(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/features?dictionary=sae-relu")
    wait_rendered(browser, "Features")
    grid = wait_grid(browser, ".st-key-feature_table")
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: any(h.startswith("Feature ") for h in h2(d)))
    rows = grid_rows(grid)
    first, row = rows[0]["feature"], 2  # the third data row: another feature than the one the page opened on
    feat = rows[row]["feature"]
    assert h2(browser) == [f"Feature {first}"] and feat != first, (h2(browser), rows)

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
    canvas = grid.find_element(By.CSS_SELECTOR, 'canvas[data-testid="data-grid-canvas"]')
    r = canvas.rect
    ActionChains(browser, duration=0).move_to_element_with_offset(
        canvas, MARKER_PX - r["width"] / 2, HEADER_PX + row * ROW_PX + ROW_PX // 2 - r["height"] / 2).click().perform()
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: h2(d) == [f"Feature {feat}"] and finished(d))
    url = browser.current_url
    assert f"feature={feat}" in url and "dictionary=sae-relu" in url, url
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')

    browser.get(url)  # a fresh session on the shared URL reopens the same feature page
    wait_rendered(browser, "Features")
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: any(h.startswith("Feature ") for h in h2(d)))
    assert h2(browser) == [f"Feature {feat}"]
    assert f"feature={feat}" in browser.current_url and "dictionary=sae-relu" in browser.current_url
    picked = browser.find_element(By.CSS_SELECTOR, ".st-key-dictionary input").get_attribute("value")
    assert picked.startswith("sae-relu"), picked


def wait_feature(driver, feature: int, timeout: float = 60) -> None:
    """Until the page shows "Feature N" as its only h2 with the script finished and N in the address."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: h2(d) == [f"Feature {feature}"] and finished(d) and f"feature={feature}" in d.current_url)


def test_a_neighbour_hop_is_in_the_history_and_the_url(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/features?dictionary=sae-relu&feature=5")
    wait_rendered(browser, "Features")
    wait_feature(browser, 5)
    links = [a for a in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stPageLink"] a')
             if a.text.startswith("#")]
    assert len(links) == 8, [a.text for a in links]
    target = int(links[0].text.split("·")[0].strip("# "))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", links[0])
    links[0].click()
    wait_feature(browser, target)  # the address follows the neighbour: a reload or a copy reopens it
    browser.back()
    wait_feature(browser, 5)  # Back steps to the feature viewed before, inside the app
    browser.forward()
    wait_feature(browser, target)
    url = browser.current_url
    browser.get(f"{server}/")
    wait_rendered(browser, "Overview")
    browser.get(url)  # the copied address in a fresh session
    wait_rendered(browser, "Features")
    wait_feature(browser, target)
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')


def test_the_feature_input_and_a_dictionary_switch_push_history(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{server}/features?dictionary=sae-relu&feature=5")
    wait_rendered(browser, "Features")
    wait_feature(browser, 5)
    box = browser.find_element(By.CSS_SELECTOR, ".st-key-feature input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("9", Keys.ENTER)
    wait_feature(browser, 9)
    browser.back()
    wait_feature(browser, 5)
    assert "dictionary=sae-relu" in browser.current_url


def test_a_neuron_deep_link_scrolls_to_its_row(server, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/neurons?model=toy-gelu-s0&layer=3&neuron=300")
    wait_rendered(browser, "Neurons")
    grid = wait_grid(browser, ".st-key-neuron_table")

    def shown(_) -> bool:  # the accessible table mirrors the visible rows only
        return any(r.get("layer") == "3" and r.get("neuron") == "300" and r.get("open") == "▶"
                   for r in grid_rows(grid))

    WebDriverWait(browser, 30, poll_frequency=0.3).until(shown)
    assert h2(browser)[0].startswith("L3 N300:")


def test_a_neuron_label_warns_and_its_examples_are_one_line_with_values_on_hover(server, browser, workspace):
    from selenium.webdriver.common.by import By
    from test_explorer_trust import labelled_neuron

    layer, neuron = labelled_neuron(workspace, "toy-gelu-s0", lacking=True)
    browser.get(f"{server}/neurons?model=toy-gelu-s0&layer={layer}&neuron={neuron}")
    wait_rendered(browser, "Neurons")
    assert h2(browser)[0].startswith(f"L{layer} N{neuron}:")
    alerts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]')]
    assert any("The top examples lack this concept" in a for a in alerts), alerts
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "sampled tokens" in body and "Examples from the concept's own tokens" in body
    rows = browser.find_elements(By.XPATH, "//div[contains(@style, 'white-space') and .//span[@title]]")
    assert rows
    for row in rows[:5]:  # the activation and the tokens on one line, whatever the column's width
        value, spans = row.find_element(By.TAG_NAME, "b"), row.find_elements(By.CSS_SELECTOR, "span[title]")
        assert abs(value.location["y"] - spans[-1].location["y"]) < 8
        assert all(re.fullmatch(r"-?\d+\.\d{3}", s.get_attribute("title")) for s in spans)  # each token's value
