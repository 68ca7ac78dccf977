"""Pure DataFrame transformations of the medallion layers (no I/O): bronze, silver, gold, dlq."""
