"""Leaving RecordIO without re-encoding: ``.rec`` <-> WebDataset tar shards and Parquet (Hugging Face
``datasets``), image bytes unchanged, every header field carried so the way back is byte-identical."""
from .parquet import parquet_to_rec, rec_to_parquet
from .results import Exported, Rebuilt
from .wds import rec_to_wds, wds_to_rec

__all__ = ["rec_to_wds", "wds_to_rec", "rec_to_parquet", "parquet_to_rec", "Exported", "Rebuilt"]
