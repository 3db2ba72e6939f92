# The two commands of the README. Everything else lives in scripts/.
.PHONY: run test lint terrain
run:
	./scripts/run.sh
test:
	./scripts/test.sh
terrain:
	./scripts/run_field.sh
lint:
	./scripts/env.sh >/dev/null; .venv/bin/ruff check .
