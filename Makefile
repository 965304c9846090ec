# The two commands of the README: `make demo` and `make test`. Each sets up
# everything it needs first (tools/bootstrap.sh is a no-op when nothing changed).
SHELL := /bin/bash
ENV := source tools/env.sh &&

.PHONY: setup demo test lint clean

setup:
	@bash tools/bootstrap.sh

demo: setup
	@$(ENV) musmove demo

test:
	@bash tools/bootstrap.sh --training
	@$(ENV) python -m pytest test

lint: setup
	@$(ENV) ruff check . && ruff format --check .

clean:
	rm -rf .venv build install log
