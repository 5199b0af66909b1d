"""The demo report: every number on the page comes from results.json, nothing is
half-written, and a real browser shows it without broken images or console errors."""

import json
from html.parser import HTMLParser

import pytest

from actlab.report import DemoConfig, format_value, lookup, run_demo


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    run_demo(DemoConfig(out=str(out), quick=True))
    return out


class _Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.spans, self.images, self._open = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and a.get("class") == "num":
            self._open = [a["data-key"], a["data-fmt"], ""]
        if tag == "img":
            self.images.append(a["src"])

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.spans.append(tuple(self._open))
            self._open = None


def test_every_number_shown_is_in_results_json(report):
    results = json.loads((report / "results.json").read_text())
    parser = _Spans()
    parser.feed((report / "index.html").read_text())
    assert len(parser.spans) > 100
    for key, fmt, text in parser.spans:
        assert format_value(lookup(results, key), fmt) == text, key
    # and the headline numbers are the real ones
    relu = results["xor"]["activations"]["relu"]
    assert 0.3 < relu["success_rate"] < 0.85 and results["xor"]["activations"]["linear"]["success_rate"] == 0.0


def test_every_image_exists_and_nothing_temporary_is_left(report):
    parser = _Spans()
    parser.feed((report / "index.html").read_text())
    assert len(parser.images) >= 7
    for src in parser.images:
        assert (report / src).stat().st_size > 1000, src
    siblings = [p.name for p in report.parent.iterdir()]
    assert siblings == ["report"]


def test_interrupted_run_leaves_the_old_report(tmp_path, monkeypatch):
    import actlab.report as rep

    out = tmp_path / "r"
    out.mkdir()
    (out / "index.html").write_text("old")

    def boom(config, folder, progress):
        (folder / "partial.png").write_bytes(b"x")
        raise KeyboardInterrupt

    monkeypatch.setattr(rep, "_compute", boom)
    with pytest.raises(KeyboardInterrupt):
        run_demo(DemoConfig(out=str(out)))
    assert [p.name for p in tmp_path.iterdir()] == ["r"] and (out / "index.html").read_text() == "old"


def _chrome():
    from _browser import chrome

    return chrome()


def test_browser_shows_the_report(report, tmp_path):
    drv = _chrome()
    try:
        drv.set_window_size(1200, 1600)
        drv.get((report / "index.html").as_uri())
        drv.execute_script("return document.readyState")
        broken = drv.execute_script(
            "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        assert broken == []
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        heads = drv.execute_script("return [...document.querySelectorAll('h2')].map(h => h.textContent)")
        assert heads[6] == "7. Signal through depth" and heads[9].startswith("10. ")
        shown = drv.execute_script("const h = [...document.querySelectorAll('h2')][6]; "
                                   "const r = h.getBoundingClientRect(); return [r.width, r.height]")
        assert shown[0] > 0 and shown[1] > 0
        phase = drv.execute_script("return [...document.images].filter(i => i.src.endsWith('signal_phase_diagram.png'))"
                                   ".map(i => i.naturalWidth)")
        assert phase and phase[0] > 300
        title = drv.title
        shot = tmp_path / "report-screenshot.png"
        drv.save_screenshot(str(shot))
        assert "activation functions" in title and shot.stat().st_size > 10_000
    finally:
        drv.quit()
