package localstream

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// convertRecord turns a record as GetRecords returns it into the record
// Lambda hands the function, the way the event source mapping fills it in.
func convertRecord(r types.Record, streamARN string) (events.DynamoDBEventRecord, error) {
	ev := events.DynamoDBEventRecord{
		AWSRegion:      region,
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if r.UserIdentity != nil {
		// Set on deletes by TTL.
		ev.UserIdentity = &events.DynamoDBUserIdentity{
			Type:        aws.ToString(r.UserIdentity.Type),
			PrincipalID: aws.ToString(r.UserIdentity.PrincipalId),
		}
	}
	c := r.Dynamodb
	if c == nil {
		return ev, fmt.Errorf("record %s has no dynamodb part", ev.EventID)
	}
	ev.Change = events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(c.SequenceNumber),
		SizeBytes:      aws.ToInt64(c.SizeBytes),
		StreamViewType: string(c.StreamViewType),
	}
	if c.ApproximateCreationDateTime != nil {
		ev.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *c.ApproximateCreationDateTime}
	}
	var err error
	if ev.Change.Keys, err = convertItem(c.Keys); err != nil {
		return ev, fmt.Errorf("record %s keys: %w", ev.Change.SequenceNumber, err)
	}
	if ev.Change.NewImage, err = convertItem(c.NewImage); err != nil {
		return ev, fmt.Errorf("record %s new image: %w", ev.Change.SequenceNumber, err)
	}
	if ev.Change.OldImage, err = convertItem(c.OldImage); err != nil {
		return ev, fmt.Errorf("record %s old image: %w", ev.Change.SequenceNumber, err)
	}
	return ev, nil
}

// convertItem converts an item, keeping nil (no image) nil.
func convertItem(item map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for name, v := range item {
		av, err := convertValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out[name] = av
	}
	return out, nil
}

func convertValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := convertValue(e)
			if err != nil {
				return av, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = av
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := convertItem(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	default:
		// A type newer than this code: failing keeps the record unread
		// (and logged) rather than delivering it altered.
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
	}
}
