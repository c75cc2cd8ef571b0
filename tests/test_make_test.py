"""Issue 22, item 11: the README's test command (``make test``) runs both environments, so no test
that "runs in the core environment" is left skipped. The full run lists those tests (conftest's
ICFORMAT_CORE_TODO) and the Makefile runs exactly them in the core environment."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import CORE_ENV_ONLY
from .serve_support import REPO, core_python


def test_make_test_runs_what_the_full_environment_leaves_to_the_core_one():
    with open(os.path.join(REPO, "Makefile")) as f:
        makefile = f.read()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "ICFORMAT_FULL_ENV=1" in recipe and "ICFORMAT_CORE_TODO=$(CURDIR)/.core-todo" in recipe
    assert re.search(r"\$\(CORE\)/bin/python -m pytest .*@\.core-todo", recipe)
    with open(os.path.join(REPO, ".ci", "run")) as f:
        assert "make test 2>&1" in f.read()  # CI runs the README's command


def test_tests_left_to_the_core_environment_run_there(mx, tmp_path):
    todo = tmp_path / "core-todo"
    env = dict(os.environ, PYTHONPATH=REPO, ICFORMAT_FULL_ENV="1", ICFORMAT_CORE_TODO=str(todo))
    full = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           "tests/test_serve_predictor.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stdout[-3000:]
    assert CORE_ENV_ONLY in full.stdout
    left = todo.read_text().split()
    assert len(left) >= 3 and all(n.startswith("tests/test_serve_predictor.py::") for n in left)
    python = core_python()
    assert python is not None, "no core environment (.venv-core or ICFORMAT_CORE_PYTHON): make test builds one"
    core_env = {k: v for k, v in os.environ.items() if k not in ("ICFORMAT_FULL_ENV", "ICFORMAT_CORE_TODO")}
    core = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", f"@{todo}"], cwd=REPO,
                          env=dict(core_env, PYTHONPATH=REPO), capture_output=True, text=True, timeout=600)
    assert core.returncode == 0, core.stdout[-3000:]
    assert re.search(rf"\b{len(left)} passed\b", core.stdout) and "skipped" not in core.stdout, core.stdout[-2000:]
