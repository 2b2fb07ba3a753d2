"""The hash-chained audit log: append, verify, checkpoints."""
