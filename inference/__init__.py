"""Parley's engine over llama-cpp-python. Plain Python: never imports Qt or `app`."""
