"""Headless Chromium through selenium (Debian's chromium + chromium-driver; .ci/run installs them)."""

from __future__ import annotations

import shutil
import time

import pytest


def chrome(file_access: bool = True):
    """A headless Chromium; ``file_access=False`` opens file:// pages as a user's browser does (no
    --allow-file-access-from-files: a file:// page then cannot fetch, import or start workers from files)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"):
        opts.add_argument(flag)
    if file_access:
        opts.add_argument("--allow-file-access-from-files")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(options=opts, service=Service(driver))


def wait_state(drv, cond, timeout=30.0, what=""):
    """Poll the playground page's ``window.playground.state()`` until ``cond(state)``."""
    st = None
    end = time.time() + timeout
    while time.time() < end:
        st = drv.execute_script("return window.playground && window.playground.state()")
        if st and cond(st):
            return st
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last state: {st}")


def served_playground():
    """A generator fixture's body: `actlab play`'s server on a free loopback port, its URL yielded."""
    import threading

    from actlab.play.server import make_server

    server, sock, url = make_server("127.0.0.1", 0)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield url
    server.should_exit = True
    t.join(10)
    sock.close()
