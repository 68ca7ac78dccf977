"""Re-exports :mod:`k2_shared.contracts` (the single source, shared with the operator) for the job code."""

from k2_shared.contracts import *  # noqa: F403
