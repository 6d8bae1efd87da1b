"""Perplexity and KL divergence, computed exactly as llama-perplexity does. Imports engine, llama,
common.
"""
