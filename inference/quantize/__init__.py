"""Quantized variants of a GGUF, made by llama.cpp's llama_model_quantize in a child process.
Imports host, llama, gguf, common.
"""
