"""Models: small networks built for the notebooks."""
