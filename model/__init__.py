"""The tsc-snn golden model.

Pipeline: a trained torch ``nn.Sequential`` -> :func:`model.convert.convert` (a
:class:`model.network.Network`) -> :func:`model.balance.balance` (float thresholds) or
:func:`model.quantize.quantize` (int8 weights, integer thresholds: the hardware's network)
-> :func:`model.simulate.simulate` / :meth:`model.quantize.IntegerNetwork.run` ->
:func:`model.netfile.write_network`. The Python API of the whole flow is the ``tsc_snn``
package (``docs/api.md``).
"""
