"""Learned named entities (PER, ORG, LOC, MISC): CoNLL data, the token tagger, BIO decoding."""
