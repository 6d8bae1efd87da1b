"""The token inspector: for each generated token, its top candidates with their probability
before and after each stage of the sampler chain, the drawn token, the entropy, and "what if"
re-shaping from them (pure numpy; llama.cpp's side is inference.llama.sampler)."""
