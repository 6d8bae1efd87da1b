"""Perplexity and KL divergence, computed exactly as llama-perplexity does. Imports common and
llama (the engine calls into it, not the other way round).
"""
