# The two commands of the README: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Kubernetes 1.32's API as its Python client 32.0.1 describes it: the source hack/gen_k8s_schemas.py derives
# gardener/apiserver/builtin/k8s-1.32.json.gz from (read as text; the runtime uses a newer client).
K8S_API_SOURCE := $(VENV)/share/kubernetes-client-32.0.1

.PHONY: demo test lint unit integration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }

$(STAMP): $(BIN)/python pyproject.toml
	command -v etcd >/dev/null || { apt-get update && apt-get install -y etcd-server; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -rf $(K8S_API_SOURCE) && mkdir -p $(K8S_API_SOURCE)
	$(BIN)/python -m pip download -q --no-deps kubernetes==32.0.1 -d $(K8S_API_SOURCE)
	$(BIN)/python -m zipfile -e $(K8S_API_SOURCE)/kubernetes-32.0.1-py2.py3-none-any.whl $(K8S_API_SOURCE)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python hack/demo.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: $(STAMP)
	$(BIN)/python hack/bench/apiserver.py

clean:
	rm -rf $(VENV) build *.egg-info
