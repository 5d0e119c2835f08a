"""tsc-snn rtl (see README)."""
