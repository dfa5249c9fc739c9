# The two commands a new user needs: `make run` and `make test`.
# `sam build` calls the build-<LogicalId> targets (BuildMethod: makefile).

GO      ?= go
PORT    ?= 3000
SUB     ?= u_alice
TENANT  ?= t_demo
SCOPES  ?= admin
DATA    ?= .local
FN      ?=
EVENT   ?=
DDB_MODEL ?=

.PHONY: run token test check-format vet lint invoke coldstart bench soak clean

## run: the local stack: DynamoDB Local (data under $(DATA)/), the table, and
## the API on 127.0.0.1:$(PORT) through the same handlers Lambda runs.
## DDB_MODEL=aws puts the DynamoDB model (conflicts, AWS latencies) in between.
run:
	$(GO) run ./infra/cmd/local -port $(PORT) -data $(DATA) -ddb-model '$(DDB_MODEL)'

## token: print one JWT the local stack accepts.
token:
	@$(GO) run ./infra/cmd/token -sub '$(SUB)' -tenant '$(TENANT)' -scopes '$(SCOPES)' -data $(DATA)

## invoke: run one function's Lambda handler on an event against the running
## local stack (make run), e.g. make invoke FN=CreateAccount EVENT=events/create-account.json
## FN=NumberHistory runs the history sequencer on a stream event
## (events/number-history.json by default).
invoke:
	@$(GO) run ./infra/cmd/invoke -fn '$(FN)' -event '$(EVENT)' -data $(DATA)

## lint: cfn-lint on the SAM template (it applies the SAM transform), and
## Redocly CLI on api/openapi.yaml: @redocly/cli pinned by
## tools/openapi-lint/package-lock.json, installed there (npm ci) on the first
## run and again only when the lock file changes.
lint:
	cfn-lint template.yaml
	@cmp -s tools/openapi-lint/package-lock.json tools/openapi-lint/node_modules/.installed-lock 2>/dev/null || { \
		echo "lint: installing the pinned Redocly CLI (npm ci --prefix tools/openapi-lint)"; \
		npm ci --prefix tools/openapi-lint --ignore-scripts --no-audit --no-fund --loglevel=error && \
		cp tools/openapi-lint/package-lock.json tools/openapi-lint/node_modules/.installed-lock; \
	} || { echo "lint: could not install @redocly/cli from tools/openapi-lint (needs Node.js 20.19+ or 22.12+, npm and the npm registry)" >&2; exit 1; }
	@REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true tools/openapi-lint/node_modules/.bin/redocly lint \
		--config tools/openapi-lint/redocly.yaml api/openapi.yaml || { \
		echo "lint: api/openapi.yaml breaks the OpenAPI lint (findings above). Fix the document; change a rule in tools/openapi-lint/redocly.yaml only if the rule itself is wrong." >&2; exit 1; }

## test: formatting, vet, template and OpenAPI lint, and every test against one shared DynamoDB Local.
test: check-format vet lint
	$(GO) run ./infra/cmd/withdynamodb -- $(GO) test -count=1 -timeout 15m ./...

check-format:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

RUNS    ?= 10
SOAK_OPS ?= 10000
SEED     ?=

## soak: the bank test at full size: 16 clients, the DynamoDB model with faults,
## client timeouts, retries and duplicates, one DynamoDB Local restart; checks
## invariants 1-5. SEED=n (or BANK_SEED) replays a run.
soak:
	$(GO) run ./infra/cmd/soak -ops $(SOAK_OPS) $(if $(SEED),-seed $(SEED))
BENCH_RUNS ?= 6

## bench: cost per operation (every route against DynamoDB Local), postings/s
## through the local gateway and the in-function CPU benchmarks; rewrites the
## bench-* sections of docs/BENCHMARKS.md and the raw outputs in docs/bench/.
bench:
	$(GO) run ./infra/cmd/withdynamodb -- $(GO) run ./infra/cmd/bench -runs $(BENCH_RUNS) -out docs/BENCHMARKS.md -raw docs/bench/

## coldstart: cold start, peak RSS and arm64 size of every function (amd64
## builds run locally); rewrites the table in docs/BENCHMARKS.md.
coldstart:
	$(GO) run ./infra/cmd/withdynamodb -- $(GO) run ./infra/cmd/coldstart -runs $(RUNS) -out docs/BENCHMARKS.md

# One static arm64 bootstrap per function, as provided.al2023 wants it.
define build-lambda
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' \
		-o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)
endef

build-HealthFunction: ; $(call build-lambda,health)
build-CreateAccountFunction: ; $(call build-lambda,create-account)
build-ListAccountsFunction: ; $(call build-lambda,list-accounts)
build-GetAccountFunction: ; $(call build-lambda,get-account)
build-UpdateAccountFunction: ; $(call build-lambda,update-account)
build-GetBalanceFunction: ; $(call build-lambda,get-balance)
build-GetHistoryFunction: ; $(call build-lambda,get-history)
build-CreateEntryFunction: ; $(call build-lambda,create-entry)
build-CreateTransferFunction: ; $(call build-lambda,create-transfer)
build-CreateWithdrawalFunction: ; $(call build-lambda,create-withdrawal)
build-ApproveTransactionFunction: ; $(call build-lambda,approve-transaction)
build-RejectTransactionFunction: ; $(call build-lambda,reject-transaction)
build-CreateJournalEntryFunction: ; $(call build-lambda,create-journal-entry)
build-ReverseTransactionFunction: ; $(call build-lambda,reverse-transaction)
build-GetTransactionFunction: ; $(call build-lambda,get-transaction)
build-ListTransactionsFunction: ; $(call build-lambda,list-transactions)
build-ClosePeriodFunction: ; $(call build-lambda,close-period)
build-ListPeriodsFunction: ; $(call build-lambda,list-periods)
build-ListAuditFunction: ; $(call build-lambda,list-audit)
# Not a route: the history sequencer, fed by the table's stream.
build-NumberHistoryFunction: ; $(call build-lambda,number-history)
# Not a route: the stream's backstop, every minute.
build-SweepHistoryFunction: ; $(call build-lambda,sweep-history)

clean:
	rm -rf .aws-sam bin
