# Quick start: `make demo` (set up, then run icformat on bundled real photos) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CORE := .venv-core
# the newest Python the numpy-2 side is tested on (pyenv's, else one on PATH)
PY313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
PY313_ENV := .venv-py313
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test test-core test-py313 bench clean

$(VENV)/.installed: pyproject.toml
	@# im2rec's YUV path needs the system's libturbojpeg (the full environment's tests require it):
	@# Debian's is installed where it is missing and apt-get can run as root; elsewhere a test says what to install
	@if ! ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0' && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q libturbojpeg0 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libturbojpeg0 >/dev/null; } || true; fi
	@# the report's tests open it in Debian's chromium, driven by Playwright (whose own browser download cannot run here)
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || true; fi
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[train,export,serve,spark,dev,turbo,report]'
	touch $@

# the core environment: numpy 2, no mxnet, onnxruntime (inference on exported models), PyTorch (CPU),
# webdataset and datasets (the readers the rec2wds/rec2parquet tests check against)
$(CORE)/.installed: pyproject.toml
	$(PY) -m venv $(CORE)
	$(CORE)/bin/pip install $(PIP_FLAGS) -e '.[dev,serve,onnx,torch,interop,report,peers]' 'numpy>=2' 'torch==2.13.0'
	touch $@

# Python 3.13: the core (numpy 2, no MXNet), the mxnet.recordio drop-in and the PyTorch datasets. No CPU
# torch wheel for 3.13 lies here (PyPI's is the CUDA build), so the torch tests skip there visibly.
$(PY313_ENV)/.installed: pyproject.toml
	$(PY313) -m venv $(PY313_ENV)
	$(PY313_ENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]' 'numpy>=2'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/python bin/demo

# the full environment: MXNet must import and its oracle tests must run (see tests/conftest.py); it also
# runs onnxruntime on fresh exports through the core environment's interpreter. The tests it leaves to
# the core environment (they skip saying "runs in the core environment": onnxruntime needs numpy 2)
# are listed in .core-todo and then run there, so that nothing this command built for is skipped.
test: $(VENV)/.installed $(CORE)/.installed
	rm -f .core-todo
	ICFORMAT_FULL_ENV=1 ICFORMAT_CORE_PYTHON=$(CURDIR)/$(CORE)/bin/python ICFORMAT_CORE_TODO=$(CURDIR)/.core-todo \
		$(VENV)/bin/python -m pytest -q -p no:cacheprovider
	@if [ -s .core-todo ]; then echo "the tests left to the core environment ($$(wc -l < .core-todo)), in $(CORE):"; \
		$(CORE)/bin/python -m pytest -q -p no:cacheprovider @.core-todo; fi

test-core: $(CORE)/.installed
	$(CORE)/bin/python -m pytest -q -p no:cacheprovider

PY313_TESTS := tests/test_recordio.py tests/test_recordio_handles.py tests/test_recordio_batch.py tests/test_shard_sets.py \
	tests/test_compat_recordio.py tests/test_torch_datasets.py tests/test_insightface_example.py tests/test_layout.py

test-py313: $(PY313_ENV)/.installed
	ICFORMAT_WITHOUT_TORCH=1 $(PY313_ENV)/bin/python -m pytest -q -p no:cacheprovider $(PY313_TESTS)

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run_all

clean:
	rm -rf $(VENV) $(CORE) $(PY313_ENV) .demo .bench .core-todo
