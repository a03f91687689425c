# Two entry points: `make demo` (the main job) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test venv clean browser

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/yolo3 demo $(if $(DATA),--data $(DATA),)

test: $(STAMP) browser
	$(PY) -m pytest -q -rs -n 2 --dist loadfile --max-worker-restart=0

# The serve page's browser test drives Debian's chromium (Playwright cannot download its
# own browser here). Install it when missing and possible (root with apt-get); otherwise
# that test is skipped and `-rs` above prints why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser test (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "chromium missing and not installable here (needs root + apt-get): the browser test will be skipped"; fi; }

clean:
	rm -rf $(VENV) runs build *.egg-info
