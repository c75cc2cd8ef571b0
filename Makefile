# Quick start: `make demo` (set up, then run icformat on bundled real photos) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CORE := .venv-core
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test test-core bench clean

$(VENV)/.installed: pyproject.toml
	@# im2rec's YUV path needs the system's libturbojpeg (the full environment's tests require it):
	@# Debian's is installed where it is missing and apt-get can run as root; elsewhere a test says what to install
	@if ! ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0' && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q libturbojpeg0 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libturbojpeg0 >/dev/null; } || true; fi
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

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run_all

clean:
	rm -rf $(VENV) $(CORE) .demo .bench .core-todo
