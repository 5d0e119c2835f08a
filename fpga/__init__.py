"""tsc-snn fpga (see README)."""
