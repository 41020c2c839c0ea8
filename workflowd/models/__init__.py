"""Local models: the shared encoder, heads, and the on-disk registry of trained versions."""
