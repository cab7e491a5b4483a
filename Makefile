# cinedraft: `make demo` and `make test` work on a fresh machine (offline but for PyPI).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test bench venv clean

venv: $(STAMP)

# torch first and exactly: 2.13.0 is the CPU build on local disk (a plain `torch` pulls CUDA).
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps invisible-watermark==0.2.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cinedraft --home .cinedraft-demo demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benches/bench_engine.py
	$(PY) benches/bench_library.py
	$(PY) benches/bench_quality.py

clean:
	rm -rf $(VENV) .cinedraft-demo .pytest_cache
