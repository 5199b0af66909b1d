# make demo   — install into .venv if needed, then run the main job
# make test   — install into .venv if needed, then run the tests
# make test-builds — the kernel's tests again with its other builds (vector width, -march, clang, no compiler)
# make play    — the interactive playground in your browser
# make figures — regenerate docs/img/ and the docs' measured tables
# make docs    — the documentation site, built strictly into site/ (a broken link or reference fails)
# A second run installs nothing: the venv is updated only when pyproject.toml or
# constraints.txt change. `make demo` installs what the demo needs; `make test` the dev extra too.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN    := $(VENV)/.installed-run
DEV    := $(VENV)/.installed-dev

# TORCH: which build of torch (pinned in constraints.txt) the venv gets.
#   cpu   torch's CPU wheels, from https://download.pytorch.org/whl/cpu (Linux: about 200 MB);
#         the default on a machine without an NVIDIA GPU (no nvidia-smi)
#   cuda  PyPI's own build: on Linux the CUDA one, with several GB of NVIDIA libraries;
#         the default where nvidia-smi answers
# macOS and Windows get a CPU build from either index. Example: make test TORCH=cuda
TORCH ?= $(if $(shell command -v nvidia-smi 2>/dev/null),cuda,cpu)
ifeq ($(TORCH),cpu)
TORCH_INDEX := --extra-index-url https://download.pytorch.org/whl/cpu
else ifeq ($(TORCH),cuda)
TORCH_INDEX :=
else
$(error TORCH must be cpu or cuda, got '$(TORCH)')
endif
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
# torch alone from its index (its own dependencies come with the next step, from PyPI): one lookup
# on download.pytorch.org, not one per package
TORCH_STEP := $(PIP) --no-deps --retries 2 $(TORCH_INDEX) torch

.PHONY: install install-dev demo test test-builds test-slow bench figures play docs clean

# what `actlab demo` and `actlab play` need: actlab and its dependencies
$(RUN): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(TORCH_STEP)
	$(PIP) -e .
	touch $(RUN)

# what the tests, the docs and the benchmarks need besides: the dev extra (Ray, JupyterLab, selenium, ONNX, MkDocs, …)
$(DEV): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(TORCH_STEP)
	$(PIP) -e '.[dev]'
	touch $(DEV) $(RUN)

install: $(RUN)
install-dev: $(DEV)

demo: $(RUN)
	$(VENV)/bin/actlab demo --out actlab-report

# the interactive playground on http://127.0.0.1:8000/ (Ctrl-C stops it)
play: $(RUN)
	$(VENV)/bin/actlab play

test: $(DEV)
	$(PY) -m pytest -q

# the kernel and playground tests once per other build of the kernel: the other vector width,
# the baseline -march, clang (where installed) and no compiler (.ci/run runs it after make test)
test-builds: $(DEV)
	bash .ci/test-builds $(PY)

test-slow: $(DEV)
	$(PY) -m pytest -q -m slow

bench: $(DEV)
	$(PY) benchmarks/bench_collapse.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_fold.py
	$(PY) benchmarks/bench_regions.py
	$(PY) benchmarks/bench_audit.py
	$(PY) benchmarks/bench_xor_command.py
	$(PY) benchmarks/bench_play.py

docs: $(DEV)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# docs/img/ and the docs' measured tables, regenerated on this machine (about ten minutes)
figures: $(DEV)
	$(PY) benchmarks/make_figures.py

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .hypothesis
