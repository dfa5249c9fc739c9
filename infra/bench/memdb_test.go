package bench

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/shared/dynamo"
)

// memDB stands in for DynamoDB at the store's dynamo.API interface, so that
// a benchmark runs the store's own code (reading and building items, the
// transaction's writes) without the SDK or a network. It keeps items by key,
// puts items and answers gets; conditions and updates (the system-account
// shards, hold outcomes) are ignored, which a single-threaded benchmark
// never notices. Once frozen it only overwrites items it already holds, so
// that millions of postings do not pile up history lines in memory.
type memDB struct {
	mu     sync.Mutex
	items  map[[2]string]map[string]types.AttributeValue
	frozen bool
}

var _ dynamo.API = (*memDB)(nil)

func newMemDB() *memDB { return &memDB{items: map[[2]string]map[string]types.AttributeValue{}} }

func keyOf(it map[string]types.AttributeValue) [2]string {
	return [2]string{str(it["pk"]), str(it["sk"])}
}

func (m *memDB) put(it map[string]types.AttributeValue) {
	k := keyOf(it)
	if _, ok := m.items[k]; ok || !m.frozen {
		m.items[k] = it
	}
}

func (m *memDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: m.items[keyOf(in.Key)]}, nil
}

func (m *memDB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			if it := m.items[keyOf(k)]; it != nil {
				out.Responses[table] = append(out.Responses[table], it)
			}
		}
	}
	return out, nil
}

func (m *memDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

func (m *memDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ti := range in.TransactItems {
		if ti.Put != nil {
			m.put(ti.Put.Item)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}
