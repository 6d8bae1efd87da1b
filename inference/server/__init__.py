"""`parley serve`: a local OpenAI-compatible HTTP server over the continuous-batching engine.

The HTTP front (Starlette + uvicorn, app.py) runs in the `parley serve` process and loads no native
code; the engine (a BatchEngine) runs in a child process (engine_child.py) reached over one pipe
with a multiplexed protocol (mux.py), watched and restarted by supervisor.py. Imports common,
gguf, library, engine, host, batching.
"""
