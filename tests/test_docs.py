"""The README is a front door and the docs site builds strictly: a broken link or an API
reference that does not resolve fails the build."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link


def test_every_measured_block_has_a_page():
    src = (ROOT / "benchmarks" / "make_figures.py").read_text(encoding="utf-8")
    names = re.findall(r'"([a-z-]+)": \w+_block', src)
    pages = "".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    assert len(names) >= 10
    for name in names:
        assert f"<!-- figures:{name} -->" in pages and f"<!-- /figures:{name} -->" in pages, name


def _build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=root, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path_factory.mktemp("site")
    out = _build(ROOT, site)
    assert out.returncode == 0, out.stdout + out.stderr
    return site


def test_the_site_builds_strictly_with_the_api_reference(built):
    api = (built / "api" / "index.html").read_text(encoding="utf-8")
    assert "Collapse an affine model or function into one exact" in api  # collapse's docstring
    assert "Judge every node of an ONNX graph" in api
    for page in ("getting-started", "collapse", "audit", "models-from-files", "xor", "regions", "dynamics",
                 "playground", "notebooks", "benchmarks", "design"):
        assert (built / page / "index.html").exists(), page


def test_the_site_carries_the_static_playground(built):
    """site/play/index.html (the mkdocs hook), where the WebAssembly toolchain or a wheel's build is at hand."""
    from actlab.play import _kernel, static_site

    if _kernel.wasm_compiler() is None and not static_site.WASM_PREBUILT.exists():
        pytest.skip(f"no WebAssembly build: {_kernel.WASM_TOOLCHAIN}")
    html = (built / "play" / "index.html").read_text(encoding="utf-8")
    assert "window.actlabStatic" in html and len(html) < 250 * 1024
    assert 'href="play/"' in (built / "index.html").read_text(encoding="utf-8")


def test_a_broken_link_fails_the_build(tmp_path):
    pytest.importorskip("mkdocs")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copytree(ROOT / "hooks", tmp_path / "hooks")
    page = tmp_path / "docs" / "xor.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](no-such-page.md)\n", encoding="utf-8")
    out = _build(tmp_path, tmp_path / "site")
    assert out.returncode != 0 and "no-such-page.md" in out.stdout + out.stderr


def _subcommands() -> list[str]:
    from actlab.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(sub.choices)


def test_every_subcommand_is_documented():
    names = _subcommands()
    assert len(names) >= 15
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    for name in names:
        assert re.search(rf"^actlab {name}\b", cli, re.M), f"docs/cli.md: no synopsis line for actlab {name}"
        assert f"`{name}`" in design, f"docs/design.md: subcommand {name} not listed"


def test_every_report_section_is_in_demo_help_and_in_the_report():
    from actlab._sections import SECTIONS, TITLES
    from actlab.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    text = " ".join(sub.choices["demo"].format_help().split())
    templates = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "actlab" / "templates" / "report").glob("*.html"))
    for i, name in enumerate(SECTIONS, 1):
        assert f"{i}. {TITLES[name]} ({name})" in text, name
        assert f"<h2>{i}. {TITLES[name]}" in templates, f"the report's heading of section {i} is not '{TITLES[name]}'"


def test_every_page_is_in_the_navigation_and_on_the_home_page():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert re.search(rf":\s*{re.escape(page.name)}\s*$", nav, re.M), f"{page.name} is not in mkdocs.yml's nav"
        if page.name != "index.md":
            assert f"]({page.name})" in home, f"{page.name} is not linked from docs/index.md"


def test_the_readme_and_the_article_page_name_the_article_and_its_code():
    for page in (ROOT / "README.md", ROOT / "docs" / "article.md"):
        text = page.read_text(encoding="utf-8")
        assert "Why Neural Networks Have Activation Functions" in text, page.name
        assert "https://github.com/ChristianWLang/nn-activations" in text, page.name
    article = (ROOT / "docs" / "article.md").read_text(encoding="utf-8")
    block = article.split("<!-- figures:article -->", 1)[1].split("<!-- /figures:article -->", 1)[0]
    assert "0.999999999999102" in block and "solved in" in block and "cores of" in block  # measured, its CPU named


# a measured figure: a number with a unit of time or rate, "1.2 s", "14–16 µs", "7,323 epochs/s"
FIGURE = re.compile(r"(?<![\w.])\d[\d,.]*(?:[–-]\d[\d,.]*)? (?:s|ms|µs|min|h|GPU-hours|epochs/s|frames/s|f/s|rows/s)(?![\w/])")


def test_every_measured_figure_is_inside_a_generated_block():
    """Timings drift with the machine: each one lives in a block `make figures` rewrites (naming its
    CPU), never in prose that would keep an old machine's number."""
    stray = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        inside = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("<!-- figures:"):
                inside = True
            elif line.startswith("<!-- /figures:"):
                inside = False
            elif not inside:
                stray += [f"{page.name}:{number}: {m.group(0)}" for m in FIGURE.finditer(line)]
    assert not stray, "figures outside generated blocks:\n" + "\n".join(stray)


def test_every_generated_block_names_its_cpu():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for name, body in re.findall(r"<!-- figures:([a-z-]+) -->\n(.*?)<!-- /figures:\1 -->", text, re.S):
            assert re.search(r"AMD|Intel|Xeon|EPYC|Apple|ARM|aarch64|Neoverse|CPU", body), f"{page.name}: block {name} names no CPU"
