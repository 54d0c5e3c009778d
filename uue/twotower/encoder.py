"""A sentence-transformers model as a differentiable text encoder of the towers."""

from __future__ import annotations

import torch
from torch import nn


class SentenceEncoder(nn.Module):
    """texts -> the model's sentence embeddings [n, d], with gradients (unlike `SentenceTransformer.encode`)."""

    def __init__(
        self,
        model_name_or_path: str,
        max_seq_length: int = 128,
        device: str = "cpu",
        attention_dropout: float | None = None,
    ):
        super().__init__()
        from uue.models import load_sentence_transformer

        self.model = load_sentence_transformer(model_name_or_path, attention_dropout, device)
        self.model.max_seq_length = max_seq_length

    @property
    def dim(self) -> int:
        return self.model.get_embedding_dimension()

    def forward(self, texts: list[str]) -> torch.Tensor:
        from sentence_transformers.util import batch_to_device

        features = batch_to_device(self.model.preprocess(texts), next(self.model.parameters()).device)
        return self.model(features)["sentence_embedding"]
