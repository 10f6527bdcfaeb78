"""Data: text corpora, tokenizers and synthetic task generators."""
