"""Foundations every room may import: Parley's errors, paths, log file, cancel flag, text-file
reading. Imports nothing else of Parley.
"""
