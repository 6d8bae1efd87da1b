"""Speculative decoding: drafters (n-gram prompt lookup, a smaller draft model) and the lossless
accept / reject rule the engine's decode loop verifies their drafts with."""
