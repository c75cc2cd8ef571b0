# Quick start: `make demo` (set up, then run icformat on bundled real photos) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CORE := .venv-core
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test test-core bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[train,dev,spark]'
	touch $@

# the core environment: numpy 2 and no mxnet
$(CORE)/.installed: pyproject.toml
	$(PY) -m venv $(CORE)
	$(CORE)/bin/pip install $(PIP_FLAGS) -e '.[dev]' 'numpy>=2'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/python bin/demo

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-core: $(CORE)/.installed
	$(CORE)/bin/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run_all

clean:
	rm -rf $(VENV) $(CORE) .demo .bench
