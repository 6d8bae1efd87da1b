"""The Hub page: search Hugging Face for GGUF repos and download files with progress."""
