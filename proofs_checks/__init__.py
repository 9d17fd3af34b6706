"""proofs_checks package (see design.md)."""
