"""Sequential recommenders (SASRec, BERT4Rec) with LLM user-profile distillation (seed 004).

Importing the package registers the built-in recommenders. Add one: a module with a `ModelConfig`
subclass and a `SeqRecommender` subclass under `@register_recommender`, plus its import below.
"""

from uue.seqrec import bert4rec, sasrec  # noqa: F401  (registration)
from uue.seqrec.config import SeqRecConfig, load_config
from uue.seqrec.data import SeqRecData, load_seqrec
from uue.seqrec.registry import get_recommender, register_recommender, registered_recommenders
from uue.seqrec.train import TrainResult, train_seqrec

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
