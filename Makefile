GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: build test lint unit fuzz bench start clean

build:
	$(GO) build -o bin/cairn ./cmd/cairn

# The whole test suite: formatting, vet, staticcheck, then every test with -race.
test: lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

unit:
	$(GO) test -race -timeout 20m $(PKGS)

fuzz:
	$(GO) test ./internal/parser -run '^$$' -fuzz FuzzParse -fuzztime 60s

bench: build
	./bin/cairn bench --workload w1

start:
	$(GO) run ./cmd/cairn start

clean:
	rm -rf bin cairn-data bench-w1.json
