# cinedraft: `make demo` and `make test` work on a fresh machine (offline but for PyPI).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

# torch first and exactly: 2.13.0 is the CPU build on local disk (a plain `torch` pulls CUDA).
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,ray]'
	$(PY) -m pip install -q --no-deps invisible-watermark==0.2.0 open_clip_torch==3.3.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cinedraft --home .cinedraft-demo demo

# Browser tests use Debian's Chromium (Playwright's own browser download does not work here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest -q --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check cinedraft cinedraft_training tests benches scripts
	$(VENV)/bin/ruff format --check cinedraft cinedraft_training tests benches scripts

# MoviePy (the editor's baseline) pins Pillow < 12, so it lives in its own venv.
.venv-bench/.installed: benches/requirements-moviepy.txt
	python3 -m venv .venv-bench
	.venv-bench/bin/pip install -q -r benches/requirements-moviepy.txt
	touch .venv-bench/.installed

bench: $(STAMP) .venv-bench/.installed
	$(PY) benches/bench_engine.py
	$(PY) benches/bench_library.py
	$(PY) benches/bench_quality.py
	$(PY) benches/bench_editor.py --moviepy-python .venv-bench/bin/python
	$(PY) benches/bench_server.py
	$(PY) benches/bench_policy.py
	$(PY) benches/bench_startup.py
	$(PY) benches/bench_video.py
	$(PY) benches/bench_scale.py
	$(PY) benches/bench_edit.py

clean:
	rm -rf $(VENV) .venv-bench .cinedraft-demo .pytest_cache
