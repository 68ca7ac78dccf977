"""What the streaming jobs and the operator both need, and nothing else: the names of exchanges,
topics, tables and jobs (`contracts`), the job configuration contract (`job_config`) and the JVM
flags of every driver and executor (`jvm_options`).

Both sides import these modules, so each fact has one source; this package needs only PyYAML, so the
operator image carries no Spark. `spark_jobs.contracts`, `.job_config` and `.jvm_options` re-export
them for the job code.
"""
