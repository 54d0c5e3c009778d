"""Sequential recommenders (SASRec, BERT4Rec) with LLM user-profile distillation.

Importing the package registers the built-in recommenders. `train_seqrec` / `TrainResult` are
loaded on first access (the training loop imports `uue.eval.seqrec`, which imports this package).
"""

from typing import Any

from uue.trainers.seqrec import bert4rec, sasrec  # noqa: F401  (registration)
from uue.trainers.seqrec.config import SeqRecConfig, load_config
from uue.trainers.seqrec.data import SeqRecData, load_seqrec
from uue.trainers.seqrec.registry import get_recommender, register_recommender, registered_recommenders

__all__ = [
    "SeqRecConfig",
    "SeqRecData",
    "TrainResult",
    "get_recommender",
    "load_config",
    "load_seqrec",
    "register_recommender",
    "registered_recommenders",
    "train_seqrec",
]


def __getattr__(name: str) -> Any:
    if name in ("train_seqrec", "TrainResult"):
        from uue.trainers.seqrec import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
