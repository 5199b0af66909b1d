# make demo   — install into .venv if needed, then run the main job
# make test   — install into .venv if needed, then run the tests
# make test-builds — the kernel's tests again with its other builds (vector width, -march, clang, no compiler)
# make play    — the interactive playground in your browser
# make figures — regenerate docs/img/ and the docs' measured tables
# make docs    — the documentation site, built strictly into site/ (a broken link or reference fails)
# A second run installs nothing: the venv is rebuilt only when pyproject.toml or
# constraints.txt change.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-builds test-slow bench figures play docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/actlab demo --out actlab-report

# the interactive playground on http://127.0.0.1:8000/ (Ctrl-C stops it)
play: $(STAMP)
	$(VENV)/bin/actlab play

test: $(STAMP)
	$(PY) -m pytest -q

# the kernel and playground tests once per other build of the kernel: the other vector width,
# the baseline -march, clang (where installed) and no compiler (.ci/run runs it after make test)
test-builds: $(STAMP)
	bash .ci/test-builds $(PY)

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_collapse.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_fold.py
	$(PY) benchmarks/bench_regions.py
	$(PY) benchmarks/bench_audit.py
	$(PY) benchmarks/bench_xor_command.py
	$(PY) benchmarks/bench_play.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# docs/img/ and the docs' measured tables, regenerated on this machine (about ten minutes)
figures: $(STAMP)
	$(PY) benchmarks/make_figures.py

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .hypothesis
