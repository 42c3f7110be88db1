"""Uneven batches split by length: sorted rows run in time segments whose batch shrinks as sequences end.

oneDNN has no per-sequence lengths, so one call over a padded batch computes every padded step. Sorted by
length (longest first), the rows still running at time ``a`` are a prefix of the batch; a segment ``[a, b)``
runs only that prefix, starting from the states the previous segment ended in. With a boundary at every
distinct length nothing padded is computed (torch.nn's packed sequences), but each call has a fixed cost
(weight reorders, primitive setup), so :func:`plan` picks the boundaries that minimise a cost model.
"""

from __future__ import annotations

from collections.abc import Sequence

# The cost model, in units of one row's work for one step (measured on a 2-core Intel Xeon at I=128, H=256,
# forward+backward, 1 thread: 0.2 ms a step whatever the batch, 0.027 ms a row-step, and 1.2-1.9 ms for each
# further segment's call, the weights being reordered once for all of them). The overheads scale with the
# weights' size roughly as the per-row work does, so one pair serves every layer size.
CALL_COST = 60.0  # a call's fixed cost: about 60 row-steps
STEP_COST = 8.0  # a step's cost beyond its rows' (the recurrent weights are read once a step): about 8 rows
MAX_CANDIDATES = 48  # boundaries considered, at most (the plan is quadratic in their number)


def plan(lengths: Sequence[int]) -> list[int]:
    """Segment boundaries ``[0, ..., max(lengths)]`` for *lengths* sorted longest first.

    Each boundary is a sequence length (or 0), so the rows of a segment ``[a, b)`` are those longer than
    ``a``; rows ending inside a segment compute its remaining steps as padding. Dynamic programming over
    the candidates finds the cheapest split under the cost model above.
    """
    longest = lengths[0] if lengths else 0
    if longest == 0:
        return [0]
    candidates = sorted({n for n in lengths if n > 0})
    if len(candidates) > MAX_CANDIDATES:  # evenly spaced among the distinct lengths, the longest always kept
        step = len(candidates) / MAX_CANDIDATES
        candidates = sorted({candidates[int(i * step)] for i in range(MAX_CANDIDATES)} | {longest})
    points = [0, *candidates]
    # running[i]: rows longer than points[i] (lengths are sorted longest first)
    running = [sum(1 for n in lengths if n > p) for p in points]
    best = [0.0] + [float("inf")] * (len(points) - 1)
    came_from = [0] * len(points)
    for j in range(1, len(points)):
        for i in range(j):
            cost = best[i] + CALL_COST + (points[j] - points[i]) * (STEP_COST + running[i])
            if cost < best[j]:
                best[j], came_from[j] = cost, i
    bounds, j = [], len(points) - 1
    while j > 0:
        bounds.append(points[j])
        j = came_from[j]
    return [0, *reversed(bounds)]
