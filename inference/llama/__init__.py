"""The only code that touches llama.cpp through ctypes: native wrappers (model, context, sampler
chain, quantize), its log, backends, build facts. Imports common only.
"""
