"""Sequential recommenders (SASRec, BERT4Rec) with LLM user-profile distillation (seed 004).

Kept empty on purpose: the CLI imports `uue.seqrec.profile_config`, and a package `__init__` that
imported the models would load them for every `uue` command. Add a recommender: a module with a
`ModelConfig` subclass and a `SeqRecommender` subclass under `@register_recommender`, and its line in
`uue.seqrec.registry.BUILTIN`.
"""
