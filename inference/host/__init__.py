"""The engine in a crash-contained child process (EngineHost) and the one child-process layer that
the one-shot jobs use too. Imports engine, llama, common.
"""
