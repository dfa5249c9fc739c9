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
		for _, a := range iamActions(in.Parameters) {
			metrics.Use(ctx, a)
		}
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
			metrics.Add(ctx, metrics.ItemsWritten, float64(len(p.TransactItems)))
			for _, ti := range p.TransactItems {
				size := writeSize(ti)
				metrics.Max(ctx, metrics.LargestItemBytes, float64(size))
				metrics.Add(ctx, metrics.ModelWriteUnits, float64(2*((size+1023)/1024)))
			}
		case *dynamodb.ScanInput:
			// No request path may scan; counting makes a test able to say so.
			p.ReturnConsumedCapacity = total
			metrics.Add(ctx, metrics.Scans, 1)
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
		case *dynamodb.ScanOutput:
			cc = one(r.ConsumedCapacity)
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

// writeSize is the size DynamoDB bills for one item of a transaction: the
// item put, or for an update the key and the values it sets (the items we
// update are small), or the key alone.
func writeSize(ti types.TransactWriteItem) int {
	switch {
	case ti.Put != nil:
		return ItemSize(ti.Put.Item)
	case ti.Update != nil:
		return ItemSize(ti.Update.Key) + ItemSize(ti.Update.ExpressionAttributeValues)
	case ti.Delete != nil:
		return ItemSize(ti.Delete.Key)
	case ti.ConditionCheck != nil:
		return ItemSize(ti.ConditionCheck.Key)
	}
	return 0
}

// ItemSize follows DynamoDB's item size rules: attribute names and string
// values by their UTF-8 bytes, numbers by about half their digits plus one,
// one byte for booleans and nulls, 3 bytes plus one per element for lists
// and maps.
func ItemSize(it map[string]types.AttributeValue) int {
	n := 0
	for name, v := range it {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		digits := 0
		for _, c := range x.Value {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		return (digits+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + len(x.Value) + ItemSize(x.Value)
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range x.Value {
			n += len(e)
		}
		return n
	}
	return 0
}

// iamActions names the IAM actions a call needs. A transaction is
// authorised per item, by the action of each item's kind.
func iamActions(params any) []string {
	switch p := params.(type) {
	case *dynamodb.GetItemInput:
		return []string{"dynamodb:GetItem"}
	case *dynamodb.BatchGetItemInput:
		return []string{"dynamodb:BatchGetItem"}
	case *dynamodb.QueryInput:
		return []string{"dynamodb:Query"}
	case *dynamodb.ScanInput:
		return []string{"dynamodb:Scan"}
	case *dynamodb.PutItemInput:
		return []string{"dynamodb:PutItem"}
	case *dynamodb.UpdateItemInput:
		return []string{"dynamodb:UpdateItem"}
	case *dynamodb.DeleteItemInput:
		return []string{"dynamodb:DeleteItem"}
	case *dynamodb.TransactWriteItemsInput:
		var out []string
		for _, ti := range p.TransactItems {
			switch {
			case ti.Put != nil:
				out = append(out, "dynamodb:PutItem")
			case ti.Update != nil:
				out = append(out, "dynamodb:UpdateItem")
			case ti.Delete != nil:
				out = append(out, "dynamodb:DeleteItem")
			case ti.ConditionCheck != nil:
				out = append(out, "dynamodb:ConditionCheckItem")
			}
		}
		return out
	}
	return []string{"dynamodb:unknown"}
}
