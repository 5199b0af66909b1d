"""The playground page in headless Chromium: the issue's acceptance run, driven through
``window.playground`` as users' scripts do. Saves play-screenshot.png in the test's temporary folder."""

from __future__ import annotations

import time

import pytest
from _browser import chrome, served_playground, wait_state


@pytest.fixture(scope="module")
def url():
    yield from served_playground()



def test_linear_xor_never_succeeds_shows_its_map_and_tanh_does_better(url, tmp_path):
    drv = chrome()
    try:
        drv.set_window_size(1400, 1000)
        drv.get(url + "#activation=linear&dataset=xor&seeds=100")
        wait_state(drv, lambda s: s["activation"] == "linear" and s["dataset"] == "xor" and s["seeds"] == 100, what="the hash's settings")
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 30 and s["collapse"] is not None, what="30 epochs and the collapse panel")
        assert st["success_rate"] == 0 and st["seeds"] == 100
        assert len(st["collapse"]["weight"]) == 2
        shown = drv.find_element("id", "collapseMap").text
        assert shown.startswith("ŷ =") and "x₁" in shown and "x₂" in shown
        assert "activation=linear" in drv.execute_script("return location.hash")
        drv.execute_script("window.playground.set({activation: 'tanh'})")
        # statistics over all seeds lag the epoch counter by up to 0.2 s (they are redone 5 times a second)
        st = wait_state(drv, lambda s: s["activation"] == "tanh" and s["epoch"] >= 100 and (s["success_rate"] or 0) > 0.5
                        and s["audit"] is not None, what="100 tanh epochs and most seeds solved")
        assert st["collapse"] is None and st["audit"]["is_affine"] is False
        assert st["frames_drawn"] > 10 and st["errors"] == []
        shot = tmp_path / "play-screenshot.png"
        drv.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        # a bad value in a link: a visible notice, and the default is used
        drv.get(url + "#activation=bogus&dataset=circle&seeds=7")
        st = wait_state(drv, lambda s: s["dataset"] == "circle" and s["seeds"] == 7, what="the second link")
        assert st["activation"] == "tanh" and "activation='bogus'" in drv.find_element("id", "notices").text
        # click the output to add a point: the run switches to your own data
        drv.execute_script("window.playground.step()")
        wait_state(drv, lambda s: s["epoch"] >= 1, what="one step")
        heat = drv.find_element("id", "heat")
        from selenium.webdriver import ActionChains

        ActionChains(drv).move_to_element_with_offset(heat, 50, -60).click().perform()
        wait_state(drv, lambda s: s["dataset"] == "custom", what="the clicked point")
        # a regression link and a comparison link: drawn without a console error
        drv.get(url + "#problem=regression&regDataset=reg-gauss&seeds=20&networkShape=3")
        wait_state(drv, lambda s: s["problem"] == "regression" and s["seeds"] == 20, what="the regression link")
        drv.execute_script("window.playground.play()")
        wait_state(drv, lambda s: s["epoch"] >= 3 and s["loss_median"] is not None, what="regression epochs")
        drv.get(url + "#activation=linear&compare=relu&dataset=circle&seeds=30")
        st = wait_state(drv, lambda s: s["compare"] == "relu" and s["compare_stats"] is not None and s["seeds"] == 30,
                   what="the comparison")
        assert sum(st["compare_stats"]["paired"].values()) == 30 and st["problem"] == "classification"
        assert drv.find_element("id", "comparePanel").is_displayed()
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        drv.quit()


def test_regions_and_hidden_space_views(url):
    """The 'Linear regions' and 'Hidden space' toggles: a ReLU net's cells drawn with their count
    (and the median over seeds), one region for a linear net, the hidden plane of a trained seed."""
    drv = chrome()
    try:
        drv.set_window_size(1400, 1200)
        drv.get(url + "#activation=relu&dataset=xor&networkShape=8,8&seeds=20&optimizer=adam&learningRate=0.01")
        wait_state(drv, lambda s: s["activation"] == "relu" and s["seeds"] == 20, what="the ReLU link")
        drv.find_element("id", "showRegions").click()
        drv.find_element("id", "showHidden").click()
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["epoch"] >= 20 and s["regions"] and s["regions"].get("count", 0) > 1
                   and s["regions_all"] and s["hidden"], what="regions and the hidden space")
        assert st["view"] == {"regions": True, "hidden": True, "signal": False}
        assert st["hidden"]["width"] == 8 and st["hidden"]["projection"] == "PCA" and st["hidden"]["points"] > 0
        info = drv.find_element("id", "regionsInfo").text
        assert f"{st['regions']['count']} linear regions" in info or "linear regions" in info
        assert st["regions_all"]["n"] >= 1 and drv.find_element("id", "hidden").is_displayed()
        drv.execute_script("window.playground.set({activation: 'linear'})")
        st = wait_state(drv, lambda s: s["activation"] == "linear" and s["epoch"] >= 2 and s["regions"] and s["regions"].get("count") == 1,
                   what="one region for the linear net")
        assert "One linear region" in drv.find_element("id", "regionsInfo").text
        drv.execute_script("window.playground.set({activation: 'tanh'})")
        st = wait_state(drv, lambda s: s["activation"] == "tanh" and s["regions"] and "note" in s["regions"], what="tanh's note")
        assert "not piecewise linear" in st["regions"]["note"]
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        drv.quit()


def test_the_strip_leaves_the_last_rows_empty_cells_blank(url):
    """100 seeds in rows of 15: the 5 cells after the last seed are blank (they were a solid block)."""
    drv = chrome()
    try:
        drv.set_window_size(1400, 1000)
        drv.get(url + "#activation=tanh&dataset=circle&seeds=100")
        st = wait_state(drv, lambda s: s["seeds"] == 100 and s["strip"] is not None and s["strip"]["n"] == 100, what="the strip")
        geo = st["strip"]
        assert geo["cols"] * geo["rows"] > 100
        pixel = "return document.getElementById('strip').getContext('2d').getImageData({}, {}, 1, 1).data[3]"
        end = time.time() + 10  # the state knows the strip's geometry a frame before the canvas is painted
        while drv.execute_script(pixel.format(geo["tile"] // 2, geo["tile"] // 2)) != 255 and time.time() < end:
            time.sleep(0.1)
        assert drv.execute_script(pixel.format(geo["tile"] // 2, geo["tile"] // 2)) == 255  # a seed's cell is drawn
        s = 100  # the first empty cell: its centre pixel is transparent
        x, y = (s % geo["cols"]) * geo["tile"] + geo["tile"] // 2, (s // geo["cols"]) * geo["tile"] + geo["tile"] // 2
        assert drv.execute_script(pixel.format(x, y)) == 0
    finally:
        drv.quit()


def test_a_wide_network_shows_every_unit_and_its_links(url):
    """2 × 64 tanh units (4,352 links; the network redrawn when a frame brings its thumbnails and
    weights, once a second while playing): the canvas grows to hold every unit, each hidden unit's
    thumbnail is its own map (taken from one atlas), and the strongest links are drawn between
    the columns."""
    drv = chrome()
    try:
        drv.set_window_size(1400, 1200)
        drv.get(url + "#activation=tanh&dataset=circle&networkShape=64,64&seeds=10")
        wait_state(drv, lambda s: s["seeds"] == 10 and s["networkShape"] == "64,64", what="the wide net's link")
        drv.execute_script("window.playground.play()")
        st = wait_state(drv, lambda s: s["seeds"] == 10 and s["frames_drawn"] > 2 and s["network"]
                        and len(s["network"]["nodes"][1]) == 64, what="the wide net drawn")
        net = st["network"]
        t, nodes = net["thumb"], net["nodes"]
        assert net["height"] >= nodes[1][-1][1] + t and nodes[1][0][1] >= 0  # every unit on the canvas
        px = "return Array.from(document.getElementById('net').getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data)"
        centres = [drv.execute_script(px, int(x + t / 2), int(y + t / 2)) for x, y in nodes[1]]
        assert all(c[3] == 255 for c in centres)
        assert len({tuple(c) for c in centres}) >= 8  # 64 units' maps, not one tile repeated
        (x1, y1), (x2, _) = nodes[1][0], nodes[2][0]
        column_gap = [drv.execute_script(px, int(x), int(y)) for x in range(int(x1 + t + 2), int(x2 - 2), 3)
                      for y in range(int(y1), int(nodes[1][-1][1]), 17)]
        assert sum(c[3] > 0 for c in column_gap) > len(column_gap) // 4  # links fill the gap between the layers
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        drv.quit()


def test_sigma_controls_mean_field_readout_and_the_signal_view(url, tmp_path):
    """init=critical puts every seed at its activation's edge of chaos: the header shows the phase,
    χ₁ = 1 and σ_w²; the Signal view draws each layer's pre-activations and gradients over the
    seeds, and its numbers are the engine's. Changing σ_w² by its control moves the phase."""
    drv = chrome()
    try:
        drv.set_window_size(1400, 1400)
        drv.get(url + "#activation=tanh&dataset=circle&networkShape=8,8,8&seeds=40&init=critical&sigmaB2=0.05")
        st = wait_state(drv, lambda s: s["settings"].get("init") == "critical" and s["mean_field"], what="the critical link")
        mf = st["mean_field"][0]
        assert mf["phase"] == "critical" and abs(mf["chi1"] - 1) < 1e-3 and abs(mf["sigma_w2"] - 1.761) < 1e-3
        assert st["mean_field_text"].startswith("critical at σ_w² 1.761 · χ₁ 1.000 · ξ_c ∞")
        assert drv.find_element("id", "sigmaW2").get_attribute("disabled") == "true"
        drv.find_element("id", "showSignal").click()
        st = wait_state(drv, lambda s: s["signal"] and s["signal"]["painted"], what="the Signal view painted")
        sig = st["signal"]
        assert sig["seeds"] == 40 and [l["units"] for l in sig["layers"]] == [8, 8, 8, 1]
        assert all(l["q"][0] <= l["q"][1] <= l["q"][2] and l["grad"][1] > 0 for l in sig["layers"])
        # at initialisation the measured variance of the last hidden layer is near the mean field's q_3
        assert abs(sig["layers"][2]["q"][1] / sig["q_predicted"][2] - 1) < 0.5
        assert drv.find_element("id", "signal").is_displayed()
        blank = drv.execute_script("const c = document.getElementById('signal'), d = c.getContext('2d')"
                                   ".getImageData(0, 0, c.width, c.height).data; let n = 0; "
                                   "for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n")
        assert blank > 2000  # histograms and gradient marks drawn
        drv.execute_script("window.playground.play()")
        wait_state(drv, lambda s: s["epoch"] >= 5 and s["signal"] and s["signal"]["painted"], what="five epochs, the view live")
        # the σ controls: gaussian at σ_w² = 4 is chaotic
        drv.execute_script("window.playground.set({init: 'gaussian', sigmaW2: 4})")
        st = wait_state(drv, lambda s: s["settings"].get("init") == "gaussian" and s["mean_field"]
                        and s["mean_field"][0]["phase"] == "chaotic", what="the chaotic phase")
        assert st["mean_field_text"].startswith("chaotic · χ₁ 1.3")
        assert drv.find_element("id", "sigmaW2").get_attribute("value") == "4.0"
        drv.save_screenshot(str(tmp_path / "play-signal.png"))
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        drv.quit()
