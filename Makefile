# Entry points; each target calls a script in hack/ that installs what it needs first.
.PHONY: local test lint bench install images

local:            ## run the local pipeline (Kafka + registry + feed + five Spark jobs)
	hack/local.sh $(ARGS)

test:             ## every test tier this machine can run, with lint and type checks
	hack/test.sh $(ARGS)

lint:
	hack/install.sh && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:            ## benchmarks (not part of the test run)
	hack/bench.sh $(ARGS)

install:
	hack/install.sh all

images:           ## the job and operator images as OCI archives under ~/.cache/k2/images (no registry needed)
	hack/install.sh && hack/build-images.sh $(ARGS)
