"""tsc-snn verif (see README)."""
