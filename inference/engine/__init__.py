"""The engine: EngineAPI, the in-process Engine, requests, events, prompts, chat templates,
sampling values and metrics. Imports common, llama, gguf, memory, library and perplexity.
"""
