"""Benchmarks measured the way llama.cpp's own tools measure: throughput, a real chat turn, memory.
Imports engine, host, llama, common.
"""
