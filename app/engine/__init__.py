"""The GUI's side of the engine: EngineClient, the worker thread, background tasks, stream pacing,
build probe. Imports inference and app.data only.
"""
