"""The seeded random generator every sampling step draws from.

A generator depends only on the run's seed and the names of what it draws for (a task, a record,
a question), never on the order rows are processed in, so a re-run, a resumed run or a run split
across workers draws the same values.
"""

from __future__ import annotations

import hashlib
import random


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator that depends only on the seed and ``parts``, not on processing order."""
    key = "\x1f".join(str(p) for p in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
