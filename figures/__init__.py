"""figures package (see design.md)."""
