"""gunicorn glue: the application object that each forked worker loads, and an arbiter that tells
Ctrl-C apart from a normal stop."""
from __future__ import annotations

import logging
import os
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from ..errors import IcformatError


class _Arbiter(Arbiter):
    interrupted = False

    def handle_int(self):
        type(self).interrupted = True
        super().handle_int()


class InferenceServer(BaseApplication):
    """gunicorn running ``InferenceApp`` with the model at ``model`` loaded in each worker."""

    def __init__(self, model: str, options):
        self.model = model
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        o = self.options
        settings = {
            "bind": f"[{o.host}]:{o.port}" if ":" in o.host else f"{o.host}:{o.port}",
            "workers": o.workers,
            "worker_class": "sync",
            "timeout": o.timeout_s,
            "graceful_timeout": 5,
            "preload_app": False,  # each worker loads its own model after the fork
            "accesslog": "-" if o.access_log else None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "icformat-serve",
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25 would create ~/.gunicorn/gunicorn.ctl
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        """Runs in each worker: load the model, then hand gunicorn the WSGI app."""
        from .http import InferenceApp
        from .predictor import open_predictor

        threads = self.options.threads or max(1, (os.cpu_count() or 1) // self.options.workers)
        try:
            predictor = open_predictor(self.model, classes=self.options.classes, threads=threads)
        except IcformatError as exc:
            print(f"icformat: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(3)
        logging.getLogger("gunicorn.error").info(
            "model loaded (%s, image_shape %s, %d classes, %d threads)", predictor.info.backend,
            "x".join(map(str, predictor.info.image_shape)), predictor.info.num_classes, threads)
        return InferenceApp(predictor)

    def run(self) -> int:
        master = os.getpid()
        try:
            _Arbiter(self).run()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            if os.getpid() != master:  # a worker ending: leave now, not through the master's cleanup
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        else:
            code = 0
        if _Arbiter.interrupted:
            return 130
        if code == 3:
            raise IcformatError("the model could not be loaded in the server's workers (see above)")
        return code


def run_gunicorn(model: str, options) -> int:
    """Serve until stopped; returns the exit status."""
    return InferenceServer(model, options).run()
