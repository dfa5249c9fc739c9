package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

// TestMain gives the package one fresh table on DynamoDB Local (the shared
// DYNAMODB_ENDPOINT, or a server started for this binary). Without it the
// tests fail: they never skip, and never run against a fake.
//
// TestMain lives in the external test package because teststack imports
// dynamo; it hands the table to the internal tests through TestDB/TestTable
// (declared in env_test.go).
func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	db, table, stop, err := teststack.NewTable(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shared/dynamo: DynamoDB Local is required:", err)
		os.Exit(1)
	}
	dynamo.TestDB, dynamo.TestTable = db, table
	code := m.Run()
	stop()
	os.Exit(code)
}
