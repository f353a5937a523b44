"""What every toy world shares: the chunked, seeded corpus generator, the word-level tokenizer, the text units
(special tokens, sentences, IOI prompts), toy-model training and the held-out IOI evaluation (`interp toyworld
train|generate|eval`). A world's own vocabulary, grammar and labels live in its package (toy1, toy2); this package
reaches them only through the registry (`interp.worlds.get_world`)."""
