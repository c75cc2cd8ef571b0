"""SageMaker pipe mode: the RecordIO-wrapped stream, ``<channel>_<epoch>`` FIFOs, and their reader."""
from .fifo import EpochReport, fifo_path, open_fifo_for_reading, open_fifo_for_writing, serve_channel
from .reader import PipeReader, iter_stream
from .wrap import StreamStats, iter_manifest_payloads, write_pipe_stream

__all__ = [
    "EpochReport",
    "PipeReader",
    "StreamStats",
    "fifo_path",
    "iter_manifest_payloads",
    "iter_stream",
    "open_fifo_for_reading",
    "open_fifo_for_writing",
    "serve_channel",
    "write_pipe_stream",
]
