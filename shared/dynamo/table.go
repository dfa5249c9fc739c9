// Package dynamo is the DynamoDB adapter: the only package that knows the
// table's keys, items and transactions. It implements app.Store.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the table's keys and its one index.
const (
	attrPK     = "pk"
	attrSK     = "sk"
	attrGSI1PK = "gsi1pk"
	attrGSI1SK = "gsi1sk"
	attrTTL    = "expires_at"
	gsi1       = "gsi1"
)

// TableDefinition is the one definition of the table. The local stack
// creates the table from it, and a test holds template.yaml equal to it.
type TableDefinition struct {
	AttributeDefinitions   []types.AttributeDefinition
	KeySchema              []types.KeySchemaElement
	GlobalSecondaryIndexes []types.GlobalSecondaryIndex
	TTLAttribute           string
	// StreamViewType turns on the table's stream: the history sequencer
	// learns from it which hot accounts have lines to number. Keys only:
	// the sequencer reads what it numbers with a consistent query anyway.
	StreamViewType types.StreamViewType
}

// Definition returns the table's keys and indexes.
func Definition() TableDefinition {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return TableDefinition{
		AttributeDefinitions: []types.AttributeDefinition{str(attrPK), str(attrSK), str(attrGSI1PK), str(attrGSI1SK)},
		KeySchema:            key(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			// gsi1: a tenant's transactions by time, for callers who see
			// every account. Eventually consistent, so never used for a
			// read that must see the caller's own write.
			IndexName:  aws.String(gsi1),
			KeySchema:  key(attrGSI1PK, attrGSI1SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		TTLAttribute:   attrTTL,
		StreamViewType: types.StreamViewTypeKeysOnly,
	}
}

// CreateTable creates the table (on-demand) if it does not exist, waits for
// it, and turns on TTL. The local stack and the tests call it; on AWS the
// template creates the table.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	d := Definition()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              aws.String(name),
		AttributeDefinitions:   d.AttributeDefinitions,
		KeySchema:              d.KeySchema,
		GlobalSecondaryIndexes: d.GlobalSecondaryIndexes,
		BillingMode:            types.BillingModePayPerRequest,
		StreamSpecification:    &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: d.StreamViewType},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if err := enableStream(ctx, db, name, d.StreamViewType); err != nil {
		return err
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(d.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil && !isTTLAlreadyOn(err) {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

func isTTLAlreadyOn(err error) bool {
	var ve interface{ ErrorMessage() string }
	return errors.As(err, &ve) && strings.Contains(ve.ErrorMessage(), "already enabled")
}

// enableStream turns the stream on for a table made before it had one (a
// local stack's data kept from an older version).
func enableStream(ctx context.Context, db *dynamodb.Client, name string, view types.StreamViewType) error {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	if spec := out.Table.StreamSpecification; spec != nil && aws.ToBool(spec.StreamEnabled) {
		return nil
	}
	_, err = db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:           aws.String(name),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view},
	})
	if err != nil {
		return fmt.Errorf("enable the stream of %s: %w", name, err)
	}
	return nil
}
