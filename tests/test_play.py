"""The playground: settings, data, the batched engine against per-seed oracles, the session's
messages and frames, the server through Starlette's TestClient (no browser). The page in
headless Chromium is tested in test_play_browser.py."""

from __future__ import annotations

import io
import json
import math
import socket

import numpy as np
import pytest
import torch
from torch import nn

from actlab.play.data import make_data, parse_csv
from actlab.play.engine import Engine
from actlab.play.session import MessageError, Session, decode_frame, encode_frame
from actlab.play.settings import LIMITS, Settings, parse

# ---------------------------------------------------------------------------- settings


def test_a_tensorflow_playground_link_is_read_with_its_meaning():
    link = ("activation=relu&batchSize=10&dataset=xor&regDataset=reg-plane&learningRate=0.03&regularizationRate=0"
            "&noise=0&networkShape=4,2&seed=0.34712&showTestData=false&discretize=false&percTrainData=50&x=true"
            "&y=true&xTimesY=false&xSquared=false&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false"
            "&collectStats=false&problem=classification&initZero=false&hideText=false")
    values = dict(kv.split("=", 1) for kv in link.split("&"))
    s, notices = parse(values)
    assert notices == []  # TensorFlow Playground's extra keys (cosX, collectStats, …) are ignored, not errors
    assert (s.activation, s.dataset, s.networkShape, s.learningRate, s.seed, s.features) == (
        "relu", "xor", (4, 2), 0.03, "0.34712", ("x", "y"))
    assert parse(s.to_hash())[0] == s  # the hash the page writes reads back to the same settings


def test_bad_values_fall_back_to_defaults_with_a_notice_naming_key_and_value():
    s, notices = parse({"activation": "swishy", "learningRate": "-1", "networkShape": "4,x", "seeds": "0",
                        "noise": "55", "showTestData": "maybe", "unknownKey": "whatever"})
    d = Settings()
    assert (s.activation, s.learningRate, s.networkShape, s.seeds, s.noise, s.showTestData) == (
        d.activation, d.learningRate, d.networkShape, d.seeds, d.noise, d.showTestData)
    assert len(notices) == 6
    text = "\n".join(notices)
    for bit in ("activation='swishy'", "learningRate='-1'", "networkShape='4,x'", "seeds='0'", "noise='55'", "showTestData='maybe'"):
        assert bit in text
    assert "unknownKey" not in text


def test_set_takes_numbers_and_booleans_as_well_as_hash_strings():
    a, _ = parse({"networkShape": "8,8,3", "learningRate": 0.1, "sinX": True, "seeds": 12, "problem": "regression"})
    b, _ = parse({"networkShape": [8, 8, 3], "learningRate": "0.1", "sinX": "true", "seeds": "12", "problem": "regression"})
    assert a == b and a.networkShape == (8, 8, 3) and a.sinX and a.seeds == 12
    assert parse({"networkShape": ""})[0].networkShape == ()  # no hidden layer: a linear model, as TensorFlow Playground allows


def test_limits_are_lifted_to_8_by_64_and_seeds_times_parameters_is_capped():
    s, notices = parse({"networkShape": ",".join(["64"] * 8), "seeds": 1000})
    assert s.networkShape == (64,) * 8 and notices and s.seeds < 1000
    assert "at most" in notices[0]
    from actlab.play.settings import n_params

    assert s.seeds * n_params(s, 2) <= LIMITS["seed_params"]
    # the cap (2·10⁶ // 28,993 = 68) in whole blocks of 16 seeds; a small cap is kept as it is
    assert s.seeds == 64 and LIMITS["seed_params"] // n_params(s, 2) == 68
    assert parse({"networkShape": ",".join(["64"] * 8), "seeds": 60})[0].seeds == 60  # under the cap: as asked
    wide, _ = parse({"networkShape": "64,64,64,64,64,64,64,64", "x": True, "y": True, "xSquared": True, "ySquared": True,
                     "xTimesY": True, "sinX": True, "sinY": True, "seeds": 1000})
    assert wide.seeds % 16 == 0 and wide.seeds * n_params(wide, 7) <= LIMITS["seed_params"]
    assert parse({"networkShape": ",".join(["4"] * 9)})[1]  # 9 layers: refused
    assert parse({"networkShape": "65"})[1]


def test_no_feature_falls_back_to_x_and_y_and_regression_uses_mse():
    s, notices = parse({"x": False, "y": "false"})
    assert s.features == ("x", "y") and notices
    s, notices = parse({"problem": "regression", "loss": "bce"})
    assert s.loss == "mse" and notices


# ---------------------------------------------------------------------------- data


def test_tensorflow_playground_sets_follow_its_definitions():
    s = Settings()
    from dataclasses import replace

    xor = make_data(replace(s, dataset="xor"))
    p, y = xor.points, xor.labels
    assert len(p) == 500 and set(np.unique(y)) == {-1.0, 1.0}
    assert np.array_equal(y, np.where(p[:, 0] * p[:, 1] >= 0, 1.0, -1.0))  # noise 0: the quadrant's label
    assert np.abs(p).min() >= 0.3 and np.abs(p).max() <= 5.3  # its padding around the axes
    circle = make_data(replace(s, dataset="circle"))
    r = np.hypot(*circle.points.T)
    assert np.array_equal(circle.labels, np.where(r < 2.5, 1.0, -1.0))
    plane = make_data(replace(s, problem="regression", regDataset="reg-plane"))
    assert len(plane.points) == 1200 and np.allclose(plane.labels, plane.points.sum(1) / 10)
    assert plane.classes is None
    for name in ("gauss", "spiral", "moons", "checkerboard"):
        d = make_data(replace(s, dataset=name))
        assert d.points.shape == (500, 2) and set(np.unique(d.labels)) == {-1.0, 1.0}
    g = make_data(replace(s, problem="regression", regDataset="reg-gauss"))
    assert g.labels.min() >= -1 and g.labels.max() <= 1


def test_data_is_reproducible_from_the_seed_and_split_by_percTrainData():
    from dataclasses import replace

    s = replace(Settings(), dataset="spiral", noise=20, percTrainData=30)
    a, b = make_data(s), make_data(s)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.train, b.train)
    assert a.train.sum() == 150
    c = make_data(replace(s, seed="another"))
    assert not np.array_equal(a.points, c.points)
    four = make_data(replace(s, dataset="xor4"))
    assert four.points.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and four.labels.tolist() == [0, 1, 1, 0] and four.train.all()


def test_csv_upload_is_parsed_or_refused_with_the_line():
    arr = parse_csv("x1,x2,label\n0,0,0\n1,1,1\n0.5,2,1\n", "classification")
    assert arr.tolist() == [[0, 0, -1], [1, 1, 1], [0.5, 2, 1]]
    with pytest.raises(ValueError, match="line 3: expected 3 columns"):
        parse_csv("0,0,1\n1,1,0\n1,2\n", "classification")
    with pytest.raises(ValueError, match="line 2: expected numbers"):
        parse_csv("0,0,1\nfoo,1,0\n", "classification")
    with pytest.raises(ValueError, match="exactly 2 distinct labels"):
        parse_csv("0,0,1\n1,1,2\n2,2,3\n", "classification")
    with pytest.raises(ValueError, match="finite"):
        parse_csv("0,0,1\n1,nan,0\n", "classification")
    with pytest.raises(ValueError, match="larger than"):
        parse_csv("0,0,1\n" * 200_000, "classification")
    assert parse_csv("0,0,0.3\n1,1,-2\n", "regression")[:, 2].tolist() == [0.3, -2]
    assert parse_csv("0,0,1\r\n1,1,0\r2,2,1", "classification").shape == (3, 3)  # Windows and old Mac line ends
    with pytest.raises(ValueError, match="cannot be read"):  # found by the message fuzz below
        parse_csv('0,0,"1\n1,1,0', "classification")


# ---------------------------------------------------------------------------- the engine against oracles


def _oracle(engine: Engine, seed: int, epochs: int) -> nn.Sequential:
    """Seed ``seed`` trained alone the plain way: nn.Sequential, autograd, torch.optim, the same
    minibatch order (the engine's generator), TensorFlow Playground's regularisation rules."""
    s = engine.settings
    model = Engine(s, engine.data).module(seed).double()  # the same initial weights
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    opt = (torch.optim.Adam if s.optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=s.learningRate)
    X, t = engine.X_train.double(), engine.t_train.double()
    gen = torch.Generator().manual_seed(s.data_seed)
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=gen)
        for j in range(0, len(X), s.batchSize):
            xb, tb = X[perm][j : j + s.batchSize], t[perm][j : j + s.batchSize]
            out = model(xb)[:, 0]
            loss = 0.5 * (out - tb).square().mean() if s.loss == "mse" else nn.functional.binary_cross_entropy_with_logits(out, tb)
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for w in weights:
                    if s.regularization == "L2":
                        w.grad += s.regularizationRate * w
                    elif s.regularization == "L1":
                        w.grad += s.regularizationRate * w.sign()
            before = [w.detach().sign() for w in weights]
            opt.step()
            if s.regularization == "L1":
                with torch.no_grad():
                    for w, b in zip(weights, before):
                        w[w.sign() * b < 0] = 0.0
    return model


@pytest.mark.parametrize("values", [
    {"activation": "tanh", "dataset": "xor", "optimizer": "sgd", "regularization": "L2", "regularizationRate": 0.01},
    {"activation": "relu", "dataset": "circle", "optimizer": "adam", "learningRate": 0.01, "loss": "bce", "networkShape": "5"},
    {"activation": "maxout", "dataset": "spiral", "optimizer": "adam", "learningRate": 0.01, "networkShape": "3,3"},
    {"activation": "gelu", "dataset": "gauss", "optimizer": "sgd", "regularization": "L1", "regularizationRate": 0.003,
     "xSquared": True, "sinY": True},
    {"activation": "linear", "problem": "regression", "regDataset": "reg-gauss", "networkShape": "", "batchSize": 7},
])
def test_every_seed_trains_as_it_would_alone_with_torch_optim(values):
    s, notices = parse({**values, "seeds": 6, "percTrainData": 20})
    assert not notices
    engine = Engine(s, make_data(s))
    engine.train_epochs(2)
    for seed in (0, 5):
        want = _oracle(engine, seed, 2)
        got = engine.module(seed).double()
        for a, b in zip(got.parameters(), want.parameters()):
            torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_a_seed_trains_the_same_in_a_batch_of_3_or_of_40_and_pausing_mid_epoch_changes_nothing():
    s, _ = parse({"dataset": "xor", "seeds": 40, "optimizer": "adam"})
    big = Engine(s, make_data(s))
    big.train_epochs(3)
    from dataclasses import replace

    small = Engine(replace(s, seeds=3), big.data)
    while small.epoch < 3:
        small.train_for(0.0, until_epoch=3)  # one step at a time
    for a, b in zip(small.params, big.params):
        torch.testing.assert_close(a, b[:3], atol=1e-6, rtol=1e-5)


def test_stats_agree_with_each_seed_module_on_the_data():
    s, _ = parse({"dataset": "circle", "seeds": 8, "activation": "tanh"})
    e = Engine(s, make_data(s))
    e.train_epochs(3)
    st = e.stats(strip=10)
    Xtr, ytr, Xte, yte = e.data.split()
    for i in range(8):
        m = e.module(i, with_features=True)
        with torch.no_grad():
            out_tr = m(torch.as_tensor(Xtr, dtype=torch.float32))[:, 0].double().numpy()
            out_te = m(torch.as_tensor(Xte, dtype=torch.float32))[:, 0].double().numpy()
        assert math.isclose(st["loss"][i], 0.5 * np.mean((out_tr - ytr) ** 2), rel_tol=1e-4)
        assert math.isclose(st["test_loss"][i], 0.5 * np.mean((out_te - yte) ** 2), rel_tol=1e-4)
        assert bool(st["solved"][i]) == (np.mean((out_tr > 0) == (ytr > 0)) >= 0.9)
    assert st["strip"].shape == (8, 100) and st["strip"].dtype == np.uint8


def test_xor4_success_is_every_output_within_0_4_as_actlab_xor():
    s, _ = parse({"dataset": "xor4", "seeds": 30, "activation": "linear", "optimizer": "adam", "learningRate": 0.01,
                  "batchSize": 4})
    e = Engine(s, make_data(s))
    e.train_epochs(300)
    assert not e.stats()["solved"].any()  # a linear network cannot fit XOR
    s2, _ = parse({"dataset": "xor4", "seeds": 30, "activation": "tanh", "optimizer": "adam", "learningRate": 0.03,
                   "batchSize": 4, "networkShape": "4"})
    e2 = Engine(s2, make_data(s2))
    e2.train_epochs(600)
    st = e2.stats()
    with torch.no_grad():
        out = torch.stack([e2.module(i)(e2.X_train)[:, 0] for i in range(30)])
    assert torch.equal(st["solved"], ((out - e2.y_train).abs() < 0.4).all(dim=1))
    assert st["solved"].sum() > 0


def test_divergence_is_counted_and_never_shown_as_nan():
    s, _ = parse({"dataset": "circle", "seeds": 10, "learningRate": 10, "activation": "relu", "networkShape": "8,8"})
    sess = Session(values=s.to_hash())
    for e in sess.engines:
        e.train_epochs(5)
    h, sec = decode_frame(sess.frame())
    state = sec["seed_state"]  # each seed's: 0 failed, 1 solved, 2 diverged (the page counts them)
    diverged = sess.engines[0].stats()["diverged"].numpy()
    assert diverged.sum() > 0 and ((state == 2) == diverged).all()
    # a diverged seed's loss may be inf or NaN in its section; everything drawn is finite
    assert all(np.isfinite(v).all() for k, v in sec.items() if v.dtype.kind == "f" and not k.endswith("loss"))
    json.dumps(h, allow_nan=False)  # no NaN anywhere in the header


# ---------------------------------------------------------------------------- session and frames


def test_frame_encoding_round_trips():
    secs = {"a": np.arange(7, dtype=np.uint8), "b": np.linspace(0, 1, 5, dtype=np.float32).reshape(5, 1)}
    h, out = decode_frame(encode_frame({"x": 1}, secs))
    assert h["x"] == 1 and np.array_equal(out["a"], secs["a"]) and np.array_equal(out["b"], secs["b"])
    assert all(s["offset"] % 4 == 0 for s in h["sections"])


def test_linear_network_panel_shows_the_exact_collapsed_map():
    sess = Session(values={"activation": "linear", "dataset": "xor", "seeds": 5, "networkShape": "4,3"})
    sess.engines[0].train_epochs(2)
    sess.selected = 3
    a = sess.analysis()
    W, b = sess.engines[0].weights(3)
    w_prod, b_prod = W[0].astype(np.float64), b[0].astype(np.float64)
    for w, v in zip(W[1:], b[1:]):  # the closed form: W3 W2 W1, and the biases carried through
        w_prod, b_prod = w @ w_prod, w @ b_prod + v
    assert np.allclose(a["collapse"]["weight"], w_prod[0], atol=1e-6) and math.isclose(a["collapse"]["bias"], b_prod[0], abs_tol=1e-6)
    ols = a["best_affine"]
    X, y = sess.engines[0].X_train.double().numpy(), sess.engines[0].y_train.double().numpy()
    coef = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    assert np.allclose(ols["weight"], coef[:2], atol=1e-8) and math.isclose(ols["bias"], coef[2], abs_tol=1e-8)
    assert "straight line" in a["why"]
    tanh = Session(values={"activation": "tanh", "dataset": "xor", "seeds": 2}).analysis()
    assert tanh["collapse"] is None and tanh["audit"]["is_affine"] is False and "tanh" in tanh["audit"]["first_nonlinear"]


def test_messages_are_validated_and_the_session_goes_on():
    sess = Session(values={"seeds": 4})
    for bad, match in [([], "JSON object"), ({"type": "fly"}, "unknown message type"), ({"type": "set"}, '"values"'),
                       ({"type": "select", "seed": 4}, "0..3"), ({"type": "select", "seed": True}, "integer"),
                       ({"type": "add_point", "x": "a", "y": 0}, "finite"), ({"type": "csv", "text": "1,2\n"}, "3 columns")]:
        with pytest.raises(MessageError, match=match):
            sess.handle(bad)
    (state,) = sess.handle({"type": "set", "values": {"activation": "nope", "seeds": 7}})
    assert state["settings"]["seeds"] == "7" and state["notices"] and "activation='nope'" in state["notices"][0]
    v = sess.version
    sess.handle({"type": "add_point", "x": 1.5, "y": -2, "label": -1})
    assert sess.settings.dataset == "custom" and sess.version == v + 1 and len(sess.data.points) == 501
    sess.handle({"type": "csv", "text": "1,1,1\n-1,-1,0\n2,2,1\n"})
    assert len(sess.data.points) == 3 and sorted(sess.data.labels.tolist()) == [-1, 1, 1]
    sess.handle({"type": "step"})
    assert sess.pending_steps == 1 and not sess.playing


def test_compare_trains_the_same_seeds_with_a_second_activation_paired():
    sess = Session(values={"activation": "linear", "compare": "tanh", "dataset": "xor", "seeds": 20})
    sess.advance(None)
    h, sec = decode_frame(sess.frame())
    c = h["compare"]
    assert c["activation"] == "tanh" and c["epoch"] == 1
    a, b = sess.engines[0].stats()["solved"].numpy(), sess.engines[1].stats()["solved"].numpy()
    np.testing.assert_array_equal(sec["seed_state"] == 1, a)
    np.testing.assert_array_equal(sec["compare_state"] == 1, b)
    assert len(sec["compare_loss"]) == len(sec["compare_test_loss"]) == 20
    assert "output_compare" in sec
    for p, q in zip(sess.engines[0].W, sess.engines[1].W):  # the same seeds: the same initial weights
        assert p.shape == q.shape


# ---------------------------------------------------------------------------- the server


@pytest.fixture
def client():
    from starlette.testclient import TestClient

    from actlab.play._guard import LOOPBACK_HOSTS
    from actlab.play.server import make_app

    app = make_app(hosts=LOOPBACK_HOSTS | {"testserver"})  # TestClient's own host name
    with TestClient(app) as c:
        c.app_ref = app
        yield c


def _until(ws, kind):
    """The next JSON message of type ``kind`` (frames on the way are acknowledged)."""
    while True:
        m = ws.receive()
        if m.get("bytes") is not None:
            ws.send_json({"type": "ack"})
            continue
        d = json.loads(m["text"])
        if d["type"] == kind:
            return d


def _frames(ws, n):
    """Read until n frames arrived (acknowledging each); returns the last header (with its
    per-seed sections as "sections") and analyses."""
    got, header, analyses = 0, None, []
    while got < n:
        m = ws.receive()
        if m.get("bytes") is not None:
            header, header["sections"] = decode_frame(m["bytes"])
            got += 1
            ws.send_json({"type": "ack"})
        elif m.get("text"):
            d = json.loads(m["text"])
            if d["type"] == "analysis":
                analyses.append(d)
    return header, analyses


def test_server_plays_a_linear_xor_run_and_shows_the_collapsed_map(client):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert ws.receive_json()["type"] == "state"
        ws.send_json({"type": "set", "values": {"activation": "linear", "dataset": "xor", "seeds": "100"}})
        state = _until(ws, "state")
        assert state["settings"]["activation"] == "linear"
        ws.send_json({"type": "play"})
        header, analyses = _frames(ws, 12)
        assert header["version"] == state["version"] and header["epoch"] > 0
        state = header["sections"]["seed_state"]
        assert len(state) == 100 and not (state == 1).any()  # no seed solves XOR linearly
        assert any(a["collapse"] and len(a["collapse"]["weight"]) == 2 for a in analyses)


def test_server_answers_bad_messages_and_keeps_running(client):
    with client.websocket_connect("/ws") as ws:
        ws.receive_json(), ws.receive_json()
        for bad, match in (("{not json", "expected JSON"), (json.dumps({"type": "select", "seed": -1}), "seed"),
                           (json.dumps({"type": "csv", "text": "x"}), "CSV"), ("x" * 3_000_000, "too large")):
            ws.send_text(bad)
            assert match in _until(ws, "error")["message"]
        ws.send_bytes(b"\x00\x01")
        assert "binary" in _until(ws, "error")["message"]
        ws.send_json({"type": "step"})
        header, _ = _frames(ws, 1)
        assert header is not None  # still alive


def test_export_of_the_selected_seed_as_json_and_pt2(client):
    with client.websocket_connect("/ws") as ws:
        token = ws.receive_json()["token"]
        ws.receive_json()
        ws.send_json({"type": "set", "values": {"activation": "relu", "dataset": "circle", "seeds": 4, "xSquared": True}})
        _until(ws, "state")
        ws.send_json({"type": "step"})
        _frames(ws, 1)
        r = client.get(f"/export/{token}/2.json")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        doc = r.json()
        assert doc["seed"] == 2 and doc["features"] == ["x", "y", "xSquared"] and len(doc["layers"]) == 3
        r = client.get(f"/export/{token}/2.pt2")
        assert r.status_code == 200
        ep = torch.export.load(io.BytesIO(r.content))
        pts = torch.randn(9, 2) * 3
        x = torch.column_stack([pts[:, 0], pts[:, 1], pts[:, 0] ** 2])
        want = x
        for i, layer in enumerate(doc["layers"]):  # the oracle: the JSON's parameters by hand
            want = want @ torch.tensor(layer["weight"]).T + torch.tensor(layer["bias"])
            if i < 2:
                want = torch.relu(want)
        torch.testing.assert_close(ep.module()(pts), want, atol=1e-5, rtol=1e-5)
        assert client.get(f"/export/{token}/9.json").status_code == 400
        assert client.get(f"/export/{token}/0.onnx").status_code == 400
    assert client.get("/export/nosuchtoken/0.json").status_code == 404


def test_the_page_is_served_and_fetches_nothing_from_the_internet(client):
    """The page is native ES modules (no build step): every module it imports is served, and
    none of them, nor the HTML or CSS, names another host."""
    import re

    html = client.get("/").text
    assert "<canvas" in html and '<script type="module" src="/static/js/main.js">' in html
    texts, todo, seen = [html, client.get("/static/play.css").text], ["/static/js/main.js"], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        r = client.get(path)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], path
        texts.append(r.text)
        todo += ["/static/js/" + m for m in re.findall(r'from "\./([\w.]+\.js)"', r.text)]
    assert len(seen) >= 6  # main, connection, controls, draw, panels, state
    for text in texts:
        assert not re.search(r"https?://(?!127\.0\.0\.1)", text.replace("http://\" +", ""))


def test_closing_the_tab_stops_its_training(client):
    """Closed, the page's session is dropped by the server (polled, no fixed sleep): nothing can
    train it any more."""
    import gc
    import time
    import weakref

    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.receive_json()
        ws.send_json({"type": "play"})
        _frames(ws, 3)
        (session,) = list(client.app_ref.state.sessions.values())
        assert session.playing is True
        ref = weakref.ref(session)
        del session
    deadline = time.monotonic() + 30
    while ref() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
    assert ref() is None and not list(client.app_ref.state.sessions.values())


def test_cli_refuses_a_busy_port_with_exit_2(capsys):
    from actlab.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["play", "--port", str(port), "--no-browser"]) == 2
    assert "cannot listen" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["play", "--port", "70000"])
    assert e.value.code == 2


def test_an_empty_custom_set_cannot_play_and_one_point_still_trains():
    sess = Session(values={"seeds": 3})
    sess.handle({"type": "clear_points"})
    assert not sess.data.train.any()
    with pytest.raises(MessageError, match="no training data"):
        sess.handle({"type": "play"})
    assert sess.playing is False
    sess.handle({"type": "add_point", "x": 1.0, "y": 2.0, "label": 1})
    assert sess.data.train.sum() == 1
    sess.handle({"type": "play"})
    sess.advance(0.01)
    assert sess.engines[0].epoch >= 1


def test_a_link_is_a_whole_state_and_set_changes_only_its_keys():
    sess = Session(values={"problem": "regression", "seeds": 9, "compare": "relu"})
    sess.handle({"type": "set", "values": {"activation": "sigmoid"}})  # set: the other keys stay
    assert (sess.settings.problem, sess.settings.seeds, sess.settings.compare) == ("regression", 9, "relu")
    sess.handle({"type": "set", "values": {"dataset": "gauss"}, "base": "defaults"})  # a link: the rest defaults
    d = Settings()
    assert (sess.settings.dataset, sess.settings.problem, sess.settings.seeds, sess.settings.compare) == (
        "gauss", d.problem, d.seeds, d.compare)
    with pytest.raises(MessageError, match='"base"'):
        sess.handle({"type": "set", "values": {}, "base": "other"})


def test_a_diverged_seed_gets_a_note_not_a_map():
    sess = Session(values={"activation": "linear", "dataset": "circle", "seeds": 4, "xSquared": True,
                           "ySquared": True, "learningRate": 3})
    sess.engines[0].train_epochs(3)
    assert sess.engines[0].stats()["diverged"].all()
    a = sess.analysis()
    assert a["collapse"] is None and "diverged" in a["note"]
    json.dumps(a, allow_nan=False)


# ---------------------------------------------------------------------------- fuzz

def test_regions_view_draws_the_selected_seeds_exact_cells_and_the_hidden_space():
    """The views change no run: frames carry the selected seed's region edges and count (checked
    against actlab.regions of its module), the analysis the median over seeds and the hidden space."""
    from actlab.analysis.regions import regions

    s = Session(values={"activation": "relu", "dataset": "xor", "networkShape": "6,6", "seeds": "5"})
    version = s.version
    assert s.handle({"type": "view", "regions": True, "hidden": True}) == [] and s.version == version
    s.advance(None)
    h, sec = decode_frame(s.frame())
    lo, hi = s.data.domain
    ref = regions(s.engines[0].module(0), (lo, hi, lo, hi))
    assert h["regions"]["count"] == ref.count and sec["region_edges"].shape == (sum(len(p) for p in ref.polygons), 4)
    a = s.analysis()
    assert a["regions_all"]["n"] == 5 and a["hidden"]["width"] == 6 and len(a["hidden"]["data"]) == int(s.data.train.sum())
    s.handle({"type": "set", "values": {"activation": "linear"}})
    h, _ = decode_frame(s.frame())
    assert h["regions"]["count"] == 1
    s.handle({"type": "set", "values": {"xSquared": "true", "activation": "relu"}})
    h, _ = decode_frame(s.frame())
    assert "x₁, x₂ features only" in h["regions"]["note"]
    s.handle({"type": "view", "regions": False})
    h, sec = decode_frame(s.frame())
    assert "regions" not in h and "region_edges" not in sec
    with pytest.raises(MessageError, match='"view" takes "regions", "hidden" and "signal" as true or false'):
        s.handle({"type": "view", "regions": "yes"})


from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402

from actlab.play.settings import KEYS  # noqa: E402

_values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.lists(st.integers(-3, 70), max_size=10),
                    st.sampled_from(["relu", "tanh", "maxout", "4,2", "64,64,64,64,64,64,64,64", "L1", "custom", "xor4",
                                     "regression", "adam", "bce", "true", "0.3", "1e-7", "", "reg-gauss"]))


@hsettings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(list(KEYS) + ["cosX", "junk"]), _values, max_size=8))
def test_any_hash_values_give_valid_settings_and_a_notice_per_bad_one(values):
    s, notices = parse(values)
    again, more = parse(s.to_hash())
    assert again == s and more == []  # what the page writes back is valid as it stands
    assert s.features and 1 <= s.seeds <= LIMITS["seeds"] and len(s.networkShape) <= LIMITS["layers"]
    from actlab.play.settings import n_params

    assert s.seeds * n_params(s, len(s.features)) <= LIMITS["seed_params"]
    assert all(isinstance(n, str) and n for n in notices)


_messages = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["set"]), "values": st.dictionaries(st.sampled_from(list(KEYS)), _values, max_size=4)}),
    st.fixed_dictionaries({"type": st.sampled_from(["select"]), "seed": _values}),
    st.fixed_dictionaries({"type": st.sampled_from(["add_point"]), "x": _values, "y": _values, "label": _values}),
    st.fixed_dictionaries({"type": st.sampled_from(["csv"]), "text": st.text(max_size=60)}),
    st.fixed_dictionaries({"type": st.sampled_from(["play", "pause", "step", "reset", "clear_points", "ack", "bogus"])}),
    _values, st.dictionaries(st.text(max_size=5), _values, max_size=3),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_messages, min_size=1, max_size=6))
def test_any_message_sequence_is_answered_or_refused_and_frames_stay_valid(msgs):
    sess = Session(values={"seeds": 3, "networkShape": "2"})
    for m in msgs:
        if isinstance(m, dict) and m.get("type") == "set":
            m["values"] = {**m["values"], "seeds": 3}  # keep the fuzz fast; the seeds key is fuzzed above
        try:
            for reply in sess.handle(m):
                json.dumps(reply, allow_nan=False)
        except MessageError as e:
            assert str(e)
    if sess.data.train.any():
        sess.advance(None)
    h, _ = decode_frame(sess.frame())
    json.dumps(h, allow_nan=False)


def test_a_wide_nets_strip_is_coarser_and_costs_what_a_small_one_does():
    """The strip's maps cost at most STRIP_MACS multiply-adds: 24² cells a seed for a small net,
    fewer for 8 × 64 (and never below MIN_STRIP_GRID); the frame's strip section has that grid."""
    from actlab.play import session as session_mod

    small = Session(values={"seeds": "100"})
    wide = Session(values={"seeds": "100", "networkShape": ",".join(["64"] * 8), "dataset": "spiral"})
    assert small.strip_grid() == 24
    g, S = wide.strip_grid(), wide.settings.seeds  # (64 seeds: the cap of seeds × parameters)
    per_point = wide.engines[0].macs_per_point
    assert session_mod.MIN_STRIP_GRID <= g < 24
    assert S * per_point * g * g <= session_mod.STRIP_MACS < S * per_point * (g + 1) ** 2
    header, sections = decode_frame(wide.frame())
    assert header["strip_grid"] == g and sections["strip"].shape == (S, g * g)


def test_a_large_networks_thumbnails_and_weights_come_once_a_second_while_playing(monkeypatch):
    from actlab.play import session as session_mod

    clock = [100.0]
    monkeypatch.setattr(session_mod.time, "perf_counter", lambda: clock[0])
    wide = Session(values={"seeds": "16", "networkShape": "64,64", "dataset": "spiral"})
    small = Session(values={"seeds": "16"})
    has_net = lambda s: {"neurons", "weights"} <= set(decode_frame(s.frame())[1])  # noqa: E731
    assert has_net(wide) and has_net(small)  # paused: every frame
    for s in (wide, small):
        s.playing = True
    clock[0] += 0.3
    assert not has_net(wide) and has_net(small)  # within NET_EVERY_S: only a small network's
    wide.selected = 3
    assert has_net(wide)  # another seed: at once
    clock[0] += 0.1
    wide.state_message()
    assert has_net(wide)  # after a state message (the page drops what it had): at once
    clock[0] += session_mod.NET_EVERY_S
    header, sections = decode_frame(wide.frame())
    # the sections, when they come, are the selected seed's: its weights in the engine's order
    W, b = wide.engines[0].weights(3)
    np.testing.assert_array_equal(sections["weights"], np.concatenate([w.ravel() for w in W] + [v.ravel() for v in b]))
    assert sections["neurons"].size == (2 + 64 + 64) * header["thumb"] ** 2


# ---------------------------------------------------------------------- initialisation and the Signal view


def test_gaussian_and_critical_init_are_actlab_train_draws_at_the_resolved_sigmas():
    from actlab import critical_sigma_w2
    from actlab.train import init_weights

    s, _ = parse({"activation": "tanh", "networkShape": "6,6", "seeds": "5", "init": "gaussian", "sigmaW2": "2.5", "sigmaB2": "0.3"})
    e = Engine(s, make_data(s))
    flat = init_weights(e.sizes, torch.arange(5), torch.float32, init="gaussian", sigma_w2=2.5, sigma_b2=0.3)
    W, b = e._split(flat)
    for got, want in zip(e.W + e.b, W + b):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    s, _ = parse({"activation": "tanh", "networkShape": "6,6", "seeds": "5", "init": "critical", "sigmaB2": "0.05"})
    e = Engine(s, make_data(s), activation="hardtanh")  # a compared activation gets its own edge
    assert e.sigma_w2 == critical_sigma_w2("hardtanh", 0.05) and e.init_note is None
    session = Session(values={"activation": "maxout", "init": "critical"})
    assert any("maxout has no edge of chaos" in n for n in session.notices)
    assert session.state_message()["mean_field"][0]["note"].startswith("maxout is not elementwise")
    mf = Session(values={"activation": "relu", "init": "gaussian", "sigmaW2": "1.5"}).state_message()["mean_field"][0]
    assert mf["phase"] == "ordered" and mf["chi1"] == pytest.approx(0.75)


@pytest.mark.parametrize("bad, expected", [({"init": "xavier"}, "expected one of glorot, gaussian, critical"),
                                           ({"sigmaW2": "0"}, "expected a number in [0.01, 100]"),
                                           ({"sigmaB2": "-1"}, "expected a number in [0, 10]")])
def test_bad_init_values_fall_back_with_a_notice(bad, expected):
    s, notices = parse(bad)
    assert s == Settings() and len(notices) == 1 and expected in notices[0]


def test_signal_stats_are_each_seeds_own_pre_activations_and_gradients():
    """The batched Signal statistics against a per-seed loop over the seeds' own nn.Modules."""
    s, _ = parse({"activation": "tanh", "networkShape": "5,4", "seeds": "7", "init": "gaussian", "sigmaW2": "1.5", "sigmaB2": "0.1"})
    session = Session(values=s.to_hash())
    e = session.engines[0]
    e.train_epochs(3)
    got = e.signal_stats()
    X, t = e.X_train[:256], e.t_train[:256]
    per_q, per_g = [[] for _ in got["layers"]], [[] for _ in got["layers"]]
    for seed in range(7):
        model = e.module(seed)
        zs, h = [], X
        for m in model:
            h = m(h)
            if isinstance(m, nn.Linear):
                h.retain_grad()
                zs.append(h)
        (0.5 * (h[:, 0] - t).square().mean()).backward()
        for l, z in enumerate(zs):
            per_q[l].append(float(z.detach().square().mean()))
            per_g[l].append(float(z.grad.square().mean()))
    for l, layer in enumerate(got["layers"]):
        want_q = torch.quantile(torch.tensor(per_q[l], dtype=torch.float64), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        want_g = torch.quantile(torch.tensor(per_g[l], dtype=torch.float64), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        assert layer["q"] == pytest.approx(want_q.tolist(), rel=1e-4)
        assert layer["grad"] == pytest.approx(want_g.tolist(), rel=1e-3)
        assert sum(layer["hist"]) == pytest.approx(1.0)
    assert [l["units"] for l in got["layers"]] == [5, 4, 1]
    # the mean field at init: q¹ = σ_w² q⁰ + σ_b², then the q map
    q0 = float(X.double().square().mean())
    assert got["q_predicted"][0] == pytest.approx(1.5 * q0 + 0.1)
    from actlab import theory
    assert got["q_predicted"][1] == pytest.approx(float(theory.q_map("tanh", [got["q_predicted"][0]], 1.5, 0.1)[0]))
    session.handle({"type": "view", "signal": True})
    assert "signal" in session.analysis() and Session(values={"activation": "maxout"}).engines[0].signal_stats()["note"]
