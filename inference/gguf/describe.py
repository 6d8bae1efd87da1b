"""Words for what a file or a name is, for the one-line errors the GGUF reader gives."""

from __future__ import annotations


def content_hint(head: bytes) -> str:
    """A hint at what a non-GGUF file really is, from its first bytes."""
    if head.startswith(b"version https://git-lfs"):
        return " — it is a Git LFS pointer, not the model itself"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return " — it looks like a web page (a failed or redirected download?)"
    if stripped.startswith((b"{", b"[")):
        return " — it looks like a JSON file"
    if head.startswith(b"PK\x03\x04"):
        return " — it is a ZIP archive"
    if len(head) >= 9 and head[8:9] == b"{":
        return " — it looks like a safetensors file; Parley needs GGUF"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return " — it is an old GGML-format model; convert it to GGUF"
    return ""


def quote_name(name: str) -> str:
    """A key or tensor name quoted for a message, with control characters made visible."""
    return f"'{name}'" if name.isprintable() and "'" not in name else repr(name)
