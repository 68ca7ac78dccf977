"""Data-quality checks over the pipeline's Delta tables: pure checks (``checks``), consistent table
cuts (``snapshots``), the scheduler that records results (``runner``) and ``k2 quality`` (``cli``)."""
