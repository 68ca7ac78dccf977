"""Re-exports :mod:`k2_shared.jvm_options` (the single source, shared with the operator) for the job code."""

from k2_shared.jvm_options import *  # noqa: F403
