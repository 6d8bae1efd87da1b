"""The model library: every GGUF Parley knows, where they live, importing and deleting, the starter
model. Imports gguf, memory, common.
"""
