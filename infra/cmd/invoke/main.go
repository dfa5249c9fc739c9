// Command invoke runs one function's Lambda handler (the api-proxy adapter
// included) on an event file against the running local stack, and prints
// the response: `sam local invoke` for those without Docker.
//
//	go run ./infra/cmd/invoke -fn CreateAccount -event events/create-account.json
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/lambdaapi"
	"github.com/treasuryledger/treasury/shared/sequencer"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run() error {
	fn := flag.String("fn", "", "function: a route name such as CreateAccount (a trailing \"Function\" is dropped)")
	eventFile := flag.String("event", "", "event file, e.g. events/create-account.json")
	data := flag.String("data", ".local", "local data folder of the running stack")
	flag.Parse()
	name := strings.TrimSuffix(*fn, "Function")
	if name == "NumberHistory" {
		return invokeSequencer(*eventFile, *data)
	}
	if name == "SweepHistory" {
		return invokeSweep(*eventFile, *data)
	}
	if _, ok := api.RouteNamed(name); !ok {
		var names []string
		for _, r := range api.Routes {
			names = append(names, r.Name)
		}
		return fmt.Errorf("unknown function %q; one of: %s, NumberHistory, SweepHistory", *fn, strings.Join(names, ", "))
	}
	if *eventFile == "" {
		rt, _ := api.RouteNamed(name)
		*eventFile = filepath.Join("events", rt.FunctionDir()+".json")
	}
	if err := loadStackEnv(filepath.Join(*data, "stack.env")); err != nil {
		return fmt.Errorf("%w (is `make run` running?)", err)
	}
	raw, err := os.ReadFile(*eventFile)
	if err != nil {
		return err
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("%s: %w", *eventFile, err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	srv, err := lambdaapi.NewServer(context.Background(), log)
	if err != nil {
		return err
	}
	resp, err := lambdaapi.Adapt(srv, name)(context.Background(), ev)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// invokeSequencer runs the history sequencer's handler on a stream event
// (by default its sample, events/number-history.json).
func invokeSequencer(eventFile, data string) error {
	var ev events.DynamoDBEvent
	h, err := sequencerOn(eventFile, "number-history.json", data, &ev)
	if err != nil {
		return err
	}
	if err := h.Handle(context.Background(), ev); err != nil {
		return err
	}
	fmt.Printf("NumberHistory: %d records handled\n", len(ev.Records))
	return nil
}

// invokeSweep runs the history sweep on a scheduled event (by default its
// sample, events/sweep-history.json, whose time it takes for "now"; an
// event of the past sweeps little).
func invokeSweep(eventFile, data string) error {
	var ev events.EventBridgeEvent
	h, err := sequencerOn(eventFile, "sweep-history.json", data, &ev)
	if err != nil {
		return err
	}
	if err := (sequencer.Sweeper{Store: h.Store.(sequencer.SweepStore), Log: h.Log}).Handle(context.Background(), ev); err != nil {
		return err
	}
	fmt.Printf("SweepHistory: swept as of %s\n", ev.Time.Format(time.RFC3339))
	return nil
}

// sequencerOn reads the event file (events/<sample> when none is given)
// into ev and builds the sequencer's handler against the running stack.
func sequencerOn(eventFile, sample, data string, ev any) (sequencer.Handler, error) {
	if eventFile == "" {
		eventFile = filepath.Join("events", sample)
	}
	if err := loadStackEnv(filepath.Join(data, "stack.env")); err != nil {
		return sequencer.Handler{}, fmt.Errorf("%w (is `make run` running?)", err)
	}
	raw, err := os.ReadFile(eventFile)
	if err != nil {
		return sequencer.Handler{}, err
	}
	if err := json.Unmarshal(raw, ev); err != nil {
		return sequencer.Handler{}, fmt.Errorf("%s: %w", eventFile, err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return sequencer.NewHandler(context.Background(), log)
}

// loadStackEnv sets the variables the running local stack wrote.
func loadStackEnv(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return sc.Err()
}
