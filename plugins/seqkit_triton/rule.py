"""The rule the plugin registers by name (``"seqkit_triton.rule:rule"``): auto's Triton rule from the measurements.

Its own module, imported when a GRU layer is first built: ``measured.py`` is regenerated whole by
``benchmarks/triton_rule.py``, and ``seqkit plugins`` must not import torch.
"""

from seqkit_triton.auto_rule import make_rule
from seqkit_triton.measured import MEASURED

rule = make_rule(MEASURED)
