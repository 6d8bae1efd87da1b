"""The Server page: start and stop `parley serve` (an OpenAI-compatible HTTP server) for the
loaded model, show its address, key and examples, and log each request it answers. May import
app.shell's theme and widgets, app.engine's client, and inference (server command and records)."""
