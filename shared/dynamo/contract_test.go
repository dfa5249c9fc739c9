package dynamo

import (
	"testing"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/app/storetest"
)

// TestStoreContract runs the store contract (shared/app/storetest) over
// the DynamoDB store on DynamoDB Local, as shared/memory runs it over the
// in-memory store: one suite, two implementations.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) app.Store { return rawStore() })
}
