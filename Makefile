# Quick start: `make demo` (set up, then run icformat on bundled real photos) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CORE := .venv-core
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test test-core bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[train,export,serve,spark,dev,turbo]'
	touch $@

# the core environment: numpy 2, no mxnet, onnxruntime (inference on exported models)
$(CORE)/.installed: pyproject.toml
	$(PY) -m venv $(CORE)
	$(CORE)/bin/pip install $(PIP_FLAGS) -e '.[dev,serve,onnx]' 'numpy>=2'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/python bin/demo

# the full environment: MXNet must import and its oracle tests must run (see tests/conftest.py); it also
# runs onnxruntime on fresh exports through the core environment's interpreter
test: $(VENV)/.installed $(CORE)/.installed
	ICFORMAT_FULL_ENV=1 ICFORMAT_CORE_PYTHON=$(CURDIR)/$(CORE)/bin/python $(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-core: $(CORE)/.installed
	$(CORE)/bin/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run_all

clean:
	rm -rf $(VENV) $(CORE) .demo .bench
