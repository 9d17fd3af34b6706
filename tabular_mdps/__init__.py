"""tabular_mdps package (see design.md)."""
