"""Beam search: W sequences advanced together in one llama.cpp context, scored by summed
log-probability with transformers' length penalty (the algorithm; the engine wires it in)."""
