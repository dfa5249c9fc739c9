// Command echo is the smallest Lambda function the tests of package
// coldstart measure: it answers every event with the event itself and the
// invocation's request id, or with an error for the event "fail".
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type reply struct {
	RequestID string          `json:"request_id"`
	Event     json.RawMessage `json:"event"`
}

func main() {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (reply, error) {
		if string(event) == `"fail"` {
			return reply{}, errors.New("asked to fail")
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return reply{RequestID: lc.AwsRequestID, Event: event}, nil
	})
}
