"""SageMaker's hosting contract as a WSGI application (served by gunicorn, see ``server.py``).

``GET /ping`` answers 200 (a worker serves only once its model is loaded); ``POST /invocations``
takes one encoded image (``image/jpeg``, ``image/png`` or ``application/x-image``) and answers its
probabilities as ``application/json`` (a bare array, the default) or ``application/jsonlines``.
Bad requests get 415, 406, 413 (over SageMaker's 6 MB payload limit, or an image whose header
claims more pixels than the budget: refused undecoded) or 400 with a JSON body saying why, and
never take the worker down.
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Iterable

from ..errors import HttpError, ImageError, ImageTooLarge
from .model import Predictor
from .preprocess import preprocess
from .results import JSON, JSONLINES, response_body

CONTENT_TYPES = ("image/jpeg", "image/png", "application/x-image")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024 * 1024  # read and drop an oversized body up to this size, so the client sees the 413
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
            413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error"}

log = logging.getLogger("icformat.serve")


def choose_accept(header: str | None) -> str:
    """The response type for an ``Accept`` header: JSON by default; 406 when nothing offered fits."""
    if not header or not header.strip():
        return JSON
    offered = []
    for part in header.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        quality = next((p.split("=", 1)[1] for p in params if p.startswith("q=")), "1")
        try:
            if float(quality) > 0:
                offered.append(media.lower())
        except ValueError:
            offered.append(media.lower())
    for media in offered:
        if media in (JSON, JSONLINES):
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise HttpError(406, f"cannot answer as {header.strip()!r}; accept {JSON} or {JSONLINES}")


def check_content_type(header: str | None) -> None:
    media = (header or "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        shown = repr(header) if header else "none"
        raise HttpError(415, f"unsupported Content-Type {shown}; send the encoded image as {', '.join(CONTENT_TYPES)}")


def read_body(environ: dict) -> bytes:
    """The request body, refused with 413 beyond ``MAX_PAYLOAD_BYTES``."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    length = int(length_text) if length_text.isdigit() else None
    if length is not None and length > MAX_PAYLOAD_BYTES:
        if length <= _DRAIN_LIMIT:
            while stream.read(1 << 20):
                pass
        raise HttpError(413, f"payload of {length:,} bytes is over the {MAX_PAYLOAD_BYTES:,} bytes (6 MB) limit")
    body = stream.read(length) if length is not None else stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise HttpError(413, f"payload is over the {MAX_PAYLOAD_BYTES} bytes (6 MB) limit")
    return body


class InferenceApp:
    """The WSGI callable around one loaded ``Predictor``; ``max_pixels``: the pixel budget (None:
    the default, ``$ICFORMAT_MAX_PIXELS`` or ``image.budget.DEFAULT_MAX_PIXELS``)."""

    def __init__(self, predictor: Predictor, *, max_pixels: int | None = None):
        self.predictor = predictor
        self.max_pixels = max_pixels

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/ping":
                return _respond(start_response, 200, JSON, b"{}" if method != "HEAD" else b"")
            if path == "/invocations":
                if method != "POST":
                    raise HttpError(405, "POST the image to /invocations")
                return self._invoke(environ, start_response)
            raise HttpError(404, f"no such endpoint {path!r}; use GET /ping or POST /invocations")
        except HttpError as exc:
            return _respond(start_response, exc.status, JSON, json.dumps({"error": str(exc)}).encode())
        except Exception:  # a fault of ours: log it, answer 500, keep the worker
            log.exception("inference failed")
            return _respond(start_response, 500, JSON, b'{"error": "internal error; see the server log"}')

    def _invoke(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        check_content_type(environ.get("CONTENT_TYPE"))
        accept = choose_accept(environ.get("HTTP_ACCEPT"))
        body = read_body(environ)
        try:
            pixels = preprocess(body, self.predictor.info.image_shape, max_pixels=self.max_pixels)
        except ImageTooLarge as exc:
            raise HttpError(413, f"image too large: {exc}") from exc
        except ImageError as exc:
            raise HttpError(400, f"cannot decode the image: {exc}") from exc
        probabilities = self.predictor.predict(pixels[None])[0]
        return _respond(start_response, 200, accept, response_body(probabilities, accept))


def _respond(start_response: Callable, status: int, content_type: str, body: bytes) -> list[bytes]:
    start_response(f"{status} {_REASONS.get(status, '')}".strip(),
                   [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
