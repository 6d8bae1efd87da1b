"""Several sequences at once in one llama.cpp context: `BatchEngine`'s slots, its FIFO queue and
the scheduler thread that decodes every slot's next token, and chunks of new prompts, in one
`llama_decode` per step (continuous batching, as llama-server does)."""
