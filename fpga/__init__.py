"""tsc-snn on a board: the host protocol (:mod:`fpga.protocol`), the board targets
(:mod:`fpga.boards`) and the host tool (``python -m fpga.run``)."""
