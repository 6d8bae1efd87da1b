"""Quant comparison: several files of one model on one text, measured in child processes. Imports
perplexity, quantize, bench, host, engine, library, gguf, memory, llama, common.
"""
