"""Seed 003's two-tower user model: a user tower that pools a history's chunks with attention, an item
tower for behavioural statements (the teacher's labels), a symmetric InfoNCE loss with a learned
temperature. `model.py` (towers, pooling), `loss.py` (the loss, negative sampling)."""
