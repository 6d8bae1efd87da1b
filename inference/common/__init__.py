"""Foundations every room may import: Parley's errors, paths, log file, cancel flag, text-file
reading, the bounds of every whole-number setting that reaches native code (limits). Imports
nothing else of Parley.
"""
