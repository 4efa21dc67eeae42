"""Alpha-beta costs of the collectives tensor and pipeline parallelism need.

All-reduce follows the bandwidth-optimal ring/tree bound: 2(n-1)/n of the message crosses each accelerator's
link, plus one latency per level of a binary tree (log2 n levels), which is what NCCL's tree/ring mix costs
for the small messages of inference (Thakur et al., "Optimization of Collective Communication Operations in
MPICH", 2005, for the 2(n-1)/n volume).
"""

from __future__ import annotations

import math

import numpy as np

from wafersim.catalog.systems import LinkSpec


def allreduce_s(message_bytes, n: int, link: LinkSpec, efficiency: float):
    if n <= 1:
        return 0.0 * np.asarray(message_bytes, dtype=float)
    volume = 2 * (n - 1) / n * np.asarray(message_bytes, dtype=float)
    return link.latency_s * math.ceil(math.log2(n)) + volume / (link.bw_bytes_per_s * efficiency)


def send_s(message_bytes, link: LinkSpec, efficiency: float):
    return link.latency_s + np.asarray(message_bytes, dtype=float) / (link.bw_bytes_per_s * efficiency)
