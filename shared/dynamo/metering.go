package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/treasuryledger/treasury/shared/metrics"
)

// meter asks DynamoDB for the capacity every call consumed and adds the
// call and its units to the request's counters: the cost of an operation
// is its round trips and units, and DynamoDB Local reports units too.
func meter(stack *middleware.Stack) error {
	ask := middleware.InitializeMiddlewareFunc("TreasuryAskCapacity", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		total := types.ReturnConsumedCapacityTotal
		switch p := in.Parameters.(type) {
		case *dynamodb.GetItemInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.BatchGetItemInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.QueryInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.PutItemInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.UpdateItemInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.DeleteItemInput:
			p.ReturnConsumedCapacity = total
		case *dynamodb.TransactWriteItemsInput:
			p.ReturnConsumedCapacity = total
		}
		out, md, err := next.HandleInitialize(ctx, in)
		metrics.Add(ctx, metrics.DynamoDBCalls, 1)
		var cc []types.ConsumedCapacity
		switch r := out.Result.(type) {
		case *dynamodb.GetItemOutput:
			cc = one(r.ConsumedCapacity)
		case *dynamodb.BatchGetItemOutput:
			cc = r.ConsumedCapacity
		case *dynamodb.QueryOutput:
			cc = one(r.ConsumedCapacity)
		case *dynamodb.PutItemOutput:
			cc = one(r.ConsumedCapacity)
		case *dynamodb.UpdateItemOutput:
			cc = one(r.ConsumedCapacity)
		case *dynamodb.DeleteItemOutput:
			cc = one(r.ConsumedCapacity)
		case *dynamodb.TransactWriteItemsOutput:
			cc = r.ConsumedCapacity
		}
		for _, c := range cc {
			if c.ReadCapacityUnits != nil || c.WriteCapacityUnits != nil {
				metrics.Add(ctx, metrics.ReadCapacityUnits, deref(c.ReadCapacityUnits))
				metrics.Add(ctx, metrics.WriteCapacityUnits, deref(c.WriteCapacityUnits))
			} else if c.CapacityUnits != nil {
				// Reads report only the total; a read's units are reads.
				if _, isWrite := out.Result.(*dynamodb.TransactWriteItemsOutput); isWrite {
					metrics.Add(ctx, metrics.WriteCapacityUnits, *c.CapacityUnits)
				} else {
					metrics.Add(ctx, metrics.ReadCapacityUnits, *c.CapacityUnits)
				}
			}
		}
		return out, md, err
	})
	return stack.Initialize.Add(ask, middleware.Before)
}

func one(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
