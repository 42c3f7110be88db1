"""The conformance kit: plain functions a plugin's own pytest suite calls to check what it registers.

``check_cell(kind)``, ``check_kernel(cell, kernel)``, ``check_task(kind)`` and ``check_dataset(kind)``
each run a set of checks on one registered entry and raise :class:`ConformanceError` (an
``AssertionError``, so pytest reports it as a failure) with a message naming the entry, the check and
what was expected. They return the names of the checks that passed.
"""

from seqkit.testing.cells import check_cell
from seqkit.testing.common import ConformanceError, DataUnavailable
from seqkit.testing.kernels import check_kernel
from seqkit.testing.tasks import check_dataset, check_task

__all__ = ["ConformanceError", "DataUnavailable", "check_cell", "check_dataset", "check_kernel", "check_task"]
