"""The help texts and small rules of a perplexity run in the GUI (no widgets here)."""

from __future__ import annotations

PPL_HELP = (
    "Perplexity: how surprised the model is by this text, on average. Lower is better. A "
    "perplexity of 10 means the model is as uncertain as if it were choosing among 10 equally "
    "likely tokens at every step; 1 would be perfect prediction.\n"
    "PPL = exp(mean NLL), where NLL = −ln p(the actual next token). ± is PPL × the standard "
    "error of the mean NLL.")
METHOD_HELP = (
    "Chunked (as llama.cpp's llama-perplexity; used when the text has at least 2 × context "
    "tokens): the text is cut into ⌊N / n_ctx⌋ chunks, each evaluated from an empty cache with "
    "BOS first; positions n_ctx/2 … n_ctx−2 are scored, so every scored token sees at least "
    "n_ctx/2 tokens of context.\n"
    "Full text (shorter texts): every token after the first is scored against all of its "
    "prefix (a sliding window past n_ctx).\n"
    "The two score different tokens with different amounts of context, so their perplexities "
    "are not comparable: compare runs with the same method, context and text.")
CTX_HELP = ("Context (n_ctx) for the measurement: tokens per chunk (chunked) or per window "
            "(full text). It is independent of the context the model was loaded with; "
            "llama-perplexity's default is 512.")


def method_for(tokens: int, n_ctx: int) -> str:
    """The method `mode="auto"` applies: chunked with ≥ 2·n_ctx tokens, else full text."""
    return "chunked" if tokens >= 2 * n_ctx else "full"


def method_summary(tokens: int, n_ctx: int) -> str:
    """E.g. "1,234 tokens · method: full text (chunked needs ≥ 1,024)"."""
    if tokens < 2:
        return f"{tokens} token · too short: perplexity needs at least 2 tokens"
    if method_for(tokens, n_ctx) == "chunked":
        return (f"{tokens:,} tokens · method: chunked ({tokens // n_ctx:,} chunks of "
                f"{n_ctx:,})")
    return f"{tokens:,} tokens · method: full text (chunked needs ≥ {2 * n_ctx:,})"
