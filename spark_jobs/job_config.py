"""Re-exports :mod:`k2_shared.job_config` (the single source, shared with the operator) for the job code."""

from k2_shared.job_config import *  # noqa: F403
