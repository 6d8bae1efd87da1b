"""The engine: EngineAPI, the in-process Engine, requests, events, sampling, prompts, chat
templates and metrics. Imports common, llama, gguf, memory.
"""
