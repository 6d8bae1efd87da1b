"""Shared test helpers: crafted GGUF files, the stand-in hub, the fake engine, GUI drivers."""
