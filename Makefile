.PHONY: setup test lint bench quickstart
setup:
	bash scripts/setup.sh
test:
	.venv/bin/python -m pytest -q
lint:
	.venv/bin/ruff check src tests benchmarks && .venv/bin/ruff format --check src tests benchmarks && .venv/bin/mypy
bench:
	for b in benchmarks/[!_]*.py; do .venv/bin/python $$b --quick || exit 1; done
quickstart:
	.venv/bin/humanllm run configs/quickstart.yaml --run-dir runs/quickstart
