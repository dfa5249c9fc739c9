// Package lambdaapi wires one HTTP route into a Lambda function: config and
// SDK clients are built once per cold start, then every invocation goes
// through the api-proxy adapter (payload format 2.0) to the route's handler.
package lambdaapi

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/lambdalog"
)

// Handler is what Lambda invokes for an HTTP API route.
type Handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Adapt wraps the server's handler for one route in the api-proxy adapter.
func Adapt(srv *api.Server, route string) Handler {
	return httpadapter.NewV2(srv.Handler(route)).ProxyWithContext
}

// NewServer builds the API server from the environment: TABLE_NAME, and
// DYNAMODB_ENDPOINT when running against DynamoDB Local.
func NewServer(ctx context.Context, log *slog.Logger) (*api.Server, error) {
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		return nil, fmt.Errorf("TABLE_NAME is not set")
	}
	db, err := dynamo.NewClient(ctx, dynamo.ConfigFromEnv())
	if err != nil {
		return nil, err
	}
	return api.NewServer(app.New(dynamo.New(db, table)), log), nil
}

// Start serves the named route as a Lambda function; main calls only this.
func Start(route string) {
	log := lambdalog.New()
	if _, ok := api.RouteNamed(route); !ok {
		log.Error("unknown route", slog.String("route", route))
		os.Exit(1)
	}
	srv, err := NewServer(context.Background(), log)
	if err != nil {
		log.Error("cannot start", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(Adapt(srv, route))
}
