"""The GUI's side of the engine: EngineClient, the engine's worker, background jobs (the GUI's one
background mechanism), stream pacing, build probe. Imports inference and app.data only.
"""
