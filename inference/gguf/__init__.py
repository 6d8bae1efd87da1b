"""Reading GGUF headers without loading weights: a bounded byte reader, the header parser,
validated files, a header cache. Imports common.
"""
