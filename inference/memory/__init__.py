"""Memory: how much a model will take (estimated from its header) and live RAM / VRAM probes.
Imports gguf, common.
"""
