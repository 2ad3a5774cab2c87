# liverannot: the two commands of the README are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup nextflow image demo test test-fast benchmark models lint-nf clean

$(VENV)/bin/liverannot: pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	@touch $@

setup: $(VENV)/bin/liverannot

## nextflow: a pinned Nextflow from Maven Central in .cache/nextflow (needs java and mvn)
nextflow: .cache/nextflow/nextflow

.cache/nextflow/nextflow: scripts/get_nextflow.sh scripts/nextflow/pom.xml scripts/nextflow/nf-lang.pom.xml
	bash scripts/get_nextflow.sh

## image: the container image with podman, tagged as the modules name it (README "Containers");
## BASE_IMAGE=local (default: a debootstrapped Debian base) or a registry image such as python:3.11-slim-bookworm
image: setup
	bash scripts/build_image.sh

## demo: install, make a two-sample demo cohort, run the whole chain, print where the report is
demo: setup
	$(VENV)/bin/liverannot demo --outdir demo_out/input
	$(VENV)/bin/liverannot run --input demo_out/input/samplesheet.csv --outdir demo_out/results
	@echo "Report: $(CURDIR)/demo_out/results/cohort/multiqc/multiqc_report.html"

## test: install and run the whole test suite (tests needing ../shared/data skip without it; the real
## Nextflow runs skip without java and mvn, except in CI, where LIVERANNOT_REQUIRE_NEXTFLOW=1)
test: setup
	bash scripts/get_nextflow.sh || [ -z "$$LIVERANNOT_REQUIRE_NEXTFLOW" ]
	bash scripts/get_nf_core.sh || [ -z "$$LIVERANNOT_REQUIRE_NEXTFLOW" ]
	$(PY) -m pytest -ra -q

## models: regenerate every shipped model from ../shared/data (about 10 minutes on 2 cores)
models: setup
	$(VENV)/bin/liverannot train --all

benchmark: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf demo_out .pytest_cache
