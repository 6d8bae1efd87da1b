"""Remote engines: `EngineAPI` over an OpenAI-compatible HTTP server (llama-server, vLLM, Ollama,
`parley serve`, any OpenAI-style endpoint), streamed with server-sent events and measured on the
client. No native code here, and no request goes out unless a remote engine was chosen."""
