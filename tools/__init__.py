"""Project tooling: code generation, certificates."""
