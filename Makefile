# The two commands a fresh Debian machine needs (as root): `make demo` and `make test`. Both install what they need.
.PHONY: deps demo test lint

deps:
	./scripts/install-deps

demo: deps
	./scripts/demo

test: deps
	npm test

lint: deps
	npm run lint
