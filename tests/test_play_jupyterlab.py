"""The playground widget in a real JupyterLab, in headless Chromium (slow: `make test-slow`):
a notebook with ``actlab.play.widget(...)`` is opened, its cell run from the page, and the
playground must appear in the output, take its first state from the kernel, and train."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": "import actlab.play\nw = actlab.play.widget(activation='tanh', dataset='xor', seeds=20)\nw"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_widget_renders_and_trains_in_jupyterlab(tmp_path):
    from _browser import chrome
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    (tmp_path / "w.ipynb").write_text(json.dumps(NOTEBOOK))
    port, token = _free_port(), secrets.token_hex(8)
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                            f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    drv = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        drv = chrome()
        drv.set_window_size(1400, 1000)
        drv.get(f"http://127.0.0.1:{port}/lab/tree/w.ipynb?token={token}")
        end = time.time() + 90
        editor = None
        while time.time() < end and editor is None:
            found = drv.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .cm-content")
            editor = found[0] if found else None
            time.sleep(0.5)
        assert editor is not None, "the notebook did not open"
        time.sleep(3)  # the kernel starts
        run_by = time.time() + 30
        while True:  # JupyterLab may render the cell again as the kernel starts: find it afresh
            try:
                editor = drv.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .cm-content")
                editor.click()
                editor.send_keys(Keys.SHIFT, Keys.ENTER)
                break
            except StaleElementReferenceException:
                if time.time() > run_by:
                    raise
                time.sleep(0.5)
        state, end = None, time.time() + 120
        while time.time() < end:
            state = drv.execute_script("return document.querySelector('.actlab-play') && window.playground && window.playground.state()")
            if state and state["version"] >= 1:
                break
            time.sleep(0.5)
        assert state and state["activation"] == "tanh" and state["seeds"] == 20, state
        drv.execute_script("window.playground.play()")
        while time.time() < end:
            state = drv.execute_script("return window.playground.state()")
            if state["epoch"] >= 50 and state["frames_drawn"] >= 3:
                break
            time.sleep(0.5)
        assert state["epoch"] >= 50 and state["frames_drawn"] >= 3, state
        drv.save_screenshot(str(tmp_path / "jupyterlab-widget.png"))
    finally:
        if drv is not None:
            drv.quit()
        lab.terminate()
        lab.wait(20)
