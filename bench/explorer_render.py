"""Explorer benchmark: how long a feature page takes, on the server (AppTest) and in a browser (click to drawn page).

1. Server side, under streamlit.testing.v1.AppTest: opens the Features page on a built workspace (`interp workspace
   build`, default workspace/), runs it once cold (artifact loading, caches filling; reported apart), then renders
   --n feature pages of --dictionary (a different feature each time, set through the "Feature" number input) and
   takes the median seconds per script run. Target: under 0.5 s.
2. Browser side, what a user waits for: starts `interp explore` on the workspace (free port on 127.0.0.1, run from
   a temporary folder), opens /features?dictionary=NAME in headless Chromium (Selenium + chromedriver), and for --n
   different live features in the feature table (rows clicked in turn, top to bottom, scrolling the grid) measures
   with time.perf_counter() from just before the click on the row's selection marker (ActionChains, no pointer
   travel time) until the page shows the clicked row's header "Feature N", Streamlit's script state is notRunning
   and the page's plotly chart (the activation histogram titled "Feature N: ...") has been drawn. The wait polls
   inside the page on every animation frame (execute_async_script), not through WebDriver round trips. Target:
   under 0.6 s. A breakdown line (medians, measured in the page from the pointerdown event, through a WebSocket
   wrapper) says where the time goes: until the rerun request leaves the page, until the server's first reply,
   until its last message (the script run and the page's deltas), and until the chart is drawn.

3. Cold deep link, what a reader who was sent a link waits for: a freshly started `interp explore` (its caches as
   the server start leaves them: apps.explorer.warm fills them; the bench waits for its "caches warm" line, as a
   reader arrives after the start), and a fresh headless Chromium (new profile: nothing cached, not even
   Streamlit's scripts) opening /features?dictionary=NAME&feature=N, timed from the navigation until the page
   shows "Feature N" drawn (header, script finished, its histogram); --cold runs, each on a new server and browser,
   median taken. Target: under 1.5 s.

The last line reads `feature_page_server_s=X feature_page_browser_s=Y deep_link_cold_s=Z` (medians, seconds); the
line before it states medians, min/max, n, the workspace, the dictionary and its feature count. The workspace is
the README's main command's (`interp workspace build --out WORKSPACE`, what `make demo` builds): built first when
WORKSPACE holds none.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/explorer_render.py [--workspace workspace --dictionary sae-topk --n 10]

Needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver; or set CHROMIUM / CHROMEDRIVER).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from apps.explorer.launch import serving  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "apps" / "explorer" / "app.py"
SERVER_TARGET_S, BROWSER_TARGET_S, COLD_TARGET_S = 0.5, 0.6, 1.5
HEADER_PX, ROW_PX, MARKER_PX = 35, 35, 12
"""glide-data-grid geometry of st.dataframe: header and row heights, x of the row-selection marker column."""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--window-size=1400,1000"]

PROBE_JS = """(() => {
  const P = window.__probe = {down: 0, sent: 0, first: 0, last: 0};
  addEventListener('pointerdown', () => { P.down = performance.now(); P.sent = P.first = P.last = 0; }, true);
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (P.down && !P.sent) P.sent = performance.now();
    return send.call(this, d);
  };
  const Orig = window.WebSocket;
  window.WebSocket = class extends Orig {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', () => {
        const t = performance.now();
        if (P.sent) { if (!P.first) P.first = t; P.last = t; }
      });
    }
  };
})();"""
"""Installed before the app's scripts: the pointerdown time, the first message sent after it (the rerun request)
and the first / last messages received after that."""

WAIT_JS = """const want = arguments[0], done = arguments[arguments.length - 1], start = performance.now();
function ready() {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (![...document.querySelectorAll('h2')].some(h => h.textContent.trim() === want)) return false;
  return [...document.querySelectorAll('.js-plotly-plot .main-svg')].some(s => s.textContent.includes(want + ':'));
}
function tick() {
  if (ready()) { const p = window.__probe || {}; done({drawn: performance.now(), ...p}); }
  else if (performance.now() - start > %TIMEOUT% * 1000) done(null);
  else requestAnimationFrame(tick);
}
tick();"""
"""Resolves once the page shows `want` ("Feature N") drawn: header, script finished, histogram titled for it."""


def server_times(root: Path, dictionary: str, n: int) -> tuple[float, list[float], int]:
    """(cold first render s, per-feature render times s, feature count) under AppTest."""
    os.environ["INTERP_WORKSPACE"] = str(root)
    at = AppTest.from_file(str(APP), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    at.switch_page("pages/features.py").run()
    at.selectbox(key="dictionary").set_value(dictionary).run()
    cold = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    d_sae = int(at.number_input(key="feature").max) + 1
    times = []
    for i in range(n):
        f = (i * 97 + 13) % d_sae
        t = time.perf_counter()
        at.number_input(key="feature").set_value(f).run()
        times.append(time.perf_counter() - t)
        assert not at.exception and any(h.value == f"Feature {f}" for h in at.header)
    return cold, times, d_sae


def find(env: str, *names: str) -> str:
    for p in (os.environ.get(env), *(f"/usr/bin/{n}" for n in names), *(shutil.which(n) for n in names)):
        if p and os.path.exists(p):
            return p
    raise SystemExit(f"{names[0]} not found (Debian: apt-get install chromium chromium-driver; or set {env})")


def browser_times(root: Path, dictionary: str, n: int, timeout: float = 60) -> tuple[list[float], list[dict]]:
    """Seconds from a click on a feature-table row to the drawn feature page, for n different live features, and
    the in-page probes of each click (performance.now() ms: down, sent, first, last, drawn)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = find("CHROMIUM", "chromium", "chromium-browser"), find("CHROMEDRIVER", "chromedriver")
    with tempfile.TemporaryDirectory(prefix="explorer-bench-") as tmp, serving(root, tmp) as url:
        driver = None
        try:
            opts = webdriver.ChromeOptions()
            opts.binary_location = chromium
            for f in [*FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}"]:
                opts.add_argument(f)
            driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
            driver.set_page_load_timeout(timeout)
            driver.set_script_timeout(timeout + 10)
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE_JS})
            driver.get(f"{url}/features?dictionary={dictionary}")
            return click_rows(driver, n, timeout)
        finally:
            if driver is not None:
                driver.quit()


def chromium(profile: Path, timeout: float):
    """A fresh headless Chromium on its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = find("CHROMIUM", "chromium", "chromium-browser")
    for f in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(f)
    driver = webdriver.Chrome(service=Service(find("CHROMEDRIVER", "chromedriver")), options=opts)
    driver.set_page_load_timeout(timeout)
    driver.set_script_timeout(timeout + 10)
    return driver


def wait_warm(log: Path, timeout: float) -> str:
    """The server's "caches warm" line (apps.explorer.warm), once it is in its log."""
    from apps.explorer.warm import WARM_LINE

    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(WARM_LINE):
                return line
        time.sleep(0.1)
    raise SystemExit(f"the explorer did not report warm caches in {timeout} s: {log.read_text()[-2000:]}")


def cold_deep_link(root: Path, dictionary: str, feature: int, timeout: float = 60) -> tuple[float, str]:
    """Seconds from navigating a fresh browser to a feature's deep link until its page is drawn, on a freshly
    started server; and the server's warm-up line."""
    wait_js = WAIT_JS.replace("%TIMEOUT%", str(float(timeout)))
    with tempfile.TemporaryDirectory(prefix="explorer-cold-") as tmp, serving(root, tmp) as url:
        warm = wait_warm(Path(tmp) / "server.log", timeout)
        driver = chromium(Path(tmp) / "profile", timeout)
        try:
            driver.get("about:blank")
            t0 = time.perf_counter()
            driver.get(f"{url}/features?dictionary={dictionary}&feature={feature}")
            drawn = driver.execute_async_script(wait_js, f"Feature {feature}")
            t1 = time.perf_counter()
            if drawn is None:
                raise SystemExit(f"the deep link to feature {feature} did not draw in {timeout} s")
            return t1 - t0, warm
        finally:
            driver.quit()


def click_rows(driver, n: int, timeout: float) -> tuple[list[float], list[dict]]:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def opened(d) -> bool:  # the page the URL opened: table (and its accessible cells), header, chart; finished
        return all(d.find_elements(By.CSS_SELECTOR, c) for c in (
            '[data-testid="stApp"][data-test-script-state="notRunning"]',
            '[data-testid="stDataFrame"] [role="gridcell"]', "h2", ".js-plotly-plot .main-svg"))

    wait_js = WAIT_JS.replace("%TIMEOUT%", str(float(timeout)))
    WebDriverWait(driver, timeout, poll_frequency=0.2).until(opened)
    grid = driver.find_element(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    canvas = grid.find_element(By.CSS_SELECTOR, 'canvas[data-testid="data-grid-canvas"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
    heads = [e.get_attribute("textContent") for e in grid.find_elements(By.CSS_SELECTOR, '[role="columnheader"]')]
    col_feature, col_dead = heads.index("feature") + 1, heads.index("dead") + 1
    shown = driver.find_element(By.CSS_SELECTOR, "h2").text
    times, probes, row = [], [], 0
    while len(times) < n:
        row += 1  # data row `row` (0 is the feature the page opened on); its aria-rowindex is row + 2
        top = driver.execute_script(
            "const s = arguments[0].querySelector('.dvn-scroller'); s.scrollTop = arguments[1] * arguments[2];"
            "return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(s.scrollTop))));",
            grid, max(row - 2, 0), ROW_PX)
        cells = grid.find_elements(By.CSS_SELECTOR, f'[role="row"][aria-rowindex="{row + 2}"] [role="gridcell"]')
        if not cells:  # past the table's last row
            raise SystemExit(f"only {len(times)} live features in the table, asked for {n}")
        feat = cells[col_feature - 1].get_attribute("textContent")
        if cells[col_dead - 1].get_attribute("textContent") == "true" or f"Feature {feat}" == shown:
            continue  # dead features have no histogram: the measure is the same page every time
        y = HEADER_PX + row * ROW_PX - top + ROW_PX // 2
        r = canvas.rect
        t0 = time.perf_counter()
        ActionChains(driver, duration=0).move_to_element_with_offset(
            canvas, MARKER_PX - r["width"] / 2, y - r["height"] / 2).click().perform()
        probe = driver.execute_async_script(wait_js, f"Feature {feat}")
        t1 = time.perf_counter()
        if probe is None:
            h2 = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "h2")]
            raise SystemExit(f"clicking row {row} (feature {feat}) did not draw its page in {timeout} s: {h2}, "
                             f"{driver.current_url}")
        if f"feature={feat}" not in driver.current_url:
            raise SystemExit(f"row {row}: feature {feat} shown but the URL is {driver.current_url}")
        times.append(t1 - t0)
        probes.append(probe)
        shown = f"Feature {feat}"
    return times, probes


def breakdown(probes: list[dict]) -> str:
    """Medians of the in-page phases after pointerdown (ms)."""
    def med(a: str, b: str) -> float:
        vals = [p[b] - p[a] for p in probes if p.get(a) and p.get(b)]
        return statistics.median(vals) if vals else float("nan")

    return (f"browser breakdown (medians, ms from pointerdown, in the page): rerun request sent "
            f"{med('down', 'sent'):.0f}, first reply {med('down', 'first'):.0f}, last message "
            f"{med('down', 'last'):.0f}, page drawn {med('down', 'drawn'):.0f} (server's messages over "
            f"{med('first', 'last'):.0f}, drawing after the last one {med('last', 'drawn'):.0f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", default="workspace")
    p.add_argument("--dictionary", default="sae-topk", help="feature pages to open (features/NAME)")
    p.add_argument("--n", type=int, default=10, help="feature pages to render / rows to click")
    p.add_argument("--cold", type=int, default=3, help="cold deep links (each on a new server and browser)")
    a = p.parse_args()
    root = Path(a.workspace).resolve()
    if not (root / "workspace.json").is_file():  # the README's main command (what `make demo` builds)
        from apps.cli import main as interp

        print(f"building the workspace: interp workspace build --out {root}", flush=True)
        if interp(["workspace", "build", "--out", str(root)]) != 0:
            raise SystemExit("the workspace build failed")
    if not (root / "features" / a.dictionary / "features.json").is_file():
        raise SystemExit(f"no feature pages {a.dictionary} in {root}: run `interp workspace build --out {root}`")

    cold, srv, d_sae = server_times(root, a.dictionary, a.n)
    s_med = statistics.median(srv)
    print(f"{a.dictionary}: {d_sae} features; server: cold first render (loading artifacts) {cold:.2f} s")
    print(f"server (AppTest) feature page renders (n={a.n}): median {s_med:.3f} s, min {min(srv):.3f} s, "
          f"max {max(srv):.3f} s (target {SERVER_TARGET_S} s)", flush=True)

    brw, probes = browser_times(root, a.dictionary, a.n)
    b_med = statistics.median(brw)
    print(f"browser click to drawn feature page (n={a.n}): median {b_med:.3f} s, min {min(brw):.3f} s, "
          f"max {max(brw):.3f} s (target {BROWSER_TARGET_S} s)")
    print(breakdown(probes))
    from interp.pages.features import load_feature_pages

    pages = load_feature_pages(root / "features" / a.dictionary, check=False)
    live = np.nonzero(~pages.arrays["dead"].astype(bool))[0]
    cold = []
    for i in range(a.cold):
        f = int(live[(i * 131 + 7) % len(live)])
        t, warm = cold_deep_link(root, a.dictionary, f)
        cold.append(t)
        print(f"cold deep link to feature {f}: {t:.3f} s (fresh server and browser; server: {warm})", flush=True)
    c_med = statistics.median(cold)
    print(f"feature page medians: server {s_med:.3f} s (AppTest; min {min(srv):.3f}, max {max(srv):.3f}), browser "
          f"{b_med:.3f} s (click to drawn; min {min(brw):.3f}, max {max(brw):.3f}), cold deep link {c_med:.3f} s "
          f"(min {min(cold):.3f}, max {max(cold):.3f}, n={a.cold}); n={a.n}, workspace {root}, dictionary "
          f"{a.dictionary} ({d_sae} features); targets {SERVER_TARGET_S} / {BROWSER_TARGET_S} / {COLD_TARGET_S} s; "
          f"measured in headless Chromium on this machine")
    print(f"feature_page_server_s={s_med:.3f} feature_page_browser_s={b_med:.3f} deep_link_cold_s={c_med:.3f}")


if __name__ == "__main__":
    main()
