"""The only code that touches llama.cpp through ctypes: native wrappers, its log, backends, build
facts. Imports common only.
"""
