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


def test_a_broken_link_fails_the_build(tmp_path):
    pytest.importorskip("mkdocs")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "src", tmp_path / "src")
    page = tmp_path / "docs" / "xor.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](no-such-page.md)\n", encoding="utf-8")
    out = _build(tmp_path, tmp_path / "site")
    assert out.returncode != 0 and "no-such-page.md" in out.stdout + out.stderr
