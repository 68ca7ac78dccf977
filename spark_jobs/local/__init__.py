"""``k2 local``: the whole pipeline on one machine with one command.

Topology (chosen for a 2-core laptop or CI runner):

- one Kafka broker (KRaft, one JVM) and one Apicurio schema registry (one JVM), on 127.0.0.1;
- the feed as a child process (``k2 feed``): live websockets when the exchanges answer, otherwise
  the offline replay or synthetic source;
- the five streaming jobs as five queries of ONE Spark application (``local[2]``, FAIR scheduler,
  one pool per query). Five applications would mean five driver JVMs of ~400-600 MB each competing
  for two cores; one application shares one JVM, one block manager and one set of jars. On
  Kubernetes each job gets its own driver (the operator's choice); the job code is identical
  (``spark_jobs.jobs.runner.start_jobs`` runs one job or five);
- each job's metrics on its own port (8000-8004), exactly as in a pod.

Tables, checkpoints, broker data and logs live under one data folder (default ``.k2/local``);
running again resumes from the checkpoints, ``--fresh`` starts over.
"""
