"""tsc-snn on a board: the host tool (:mod:`fpga.host`, ``python -m fpga.run``). It stands
on the protocol (:mod:`rtl.protocol`) and the board targets (:mod:`rtl.boards`) that the
gateware is built from: ``fpga`` imports ``rtl``, never the other way."""
