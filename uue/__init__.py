"""uue: universal user embeddings distilled from an LLM teacher."""

__version__ = "0.1.0"
