"""The Hugging Face hub: search, file listings and resumable, checked downloads with progress.
Imports gguf, memory, library, common.
"""
