package ddbmodel

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"sync"
)

// The conflict rules, from "Transaction conflict handling in DynamoDB"
// (DynamoDB developer guide):
//
//  1. A PutItem, UpdateItem or DeleteItem on an item of an ongoing
//     TransactWriteItems fails with TransactionConflictException.
//  2. A TransactWriteItems touching an item of another ongoing
//     TransactWriteItems is cancelled (TransactionCanceledException, reason
//     TransactionConflict at that item).
//  3. A TransactGetItems touching an item of an ongoing TransactWriteItems,
//     BatchWriteItem, PutItem, UpdateItem or DeleteItem is cancelled the
//     same way.
//
// GetItem, BatchGetItem, Query and Scan never conflict. "Ongoing" is the
// call's whole modelled latency plus DynamoDB Local's execution of it.

// hold counts the in-flight calls that hold one item.
type hold struct {
	txnWrites int // TransactWriteItems (rules 1, 2, 3)
	writes    int // PutItem, UpdateItem, DeleteItem, BatchWriteItem (rule 3)
}

// lockTable holds the items of in-flight writes. Every check-and-take is
// one critical section, so two concurrent calls can never both pass.
type lockTable struct {
	mu    sync.Mutex
	items map[string]*hold
}

// take adds holds on keys ("" = unknown, skipped) and returns their release.
// The caller holds l.mu.
func (l *lockTable) take(keys []string, txn bool) func() {
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := l.items[k]
		if h == nil {
			h = &hold{}
			l.items[k] = h
		}
		if txn {
			h.txnWrites++
		} else {
			h.writes++
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, k := range keys {
				if k == "" {
					continue
				}
				h := l.items[k]
				if txn {
					h.txnWrites--
				} else {
					h.writes--
				}
				if h.txnWrites == 0 && h.writes == 0 {
					delete(l.items, k)
				}
			}
		})
	}
}

// transactWrite applies rule 2: conflict[i] is set for each position whose
// item an ongoing TransactWriteItems holds; with no conflict it takes the
// items.
func (l *lockTable) transactWrite(keys []string) (conflict []bool, release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	conflict = make([]bool, len(keys))
	found := false
	for i, k := range keys {
		if h := l.items[k]; k != "" && h != nil && h.txnWrites > 0 {
			conflict[i], found = true, true
		}
	}
	if found {
		return conflict, nil
	}
	return nil, l.take(keys, true)
}

// transactGet applies rule 3. A TransactGetItems holds nothing: no rule
// makes a call conflict with an ongoing one.
func (l *lockTable) transactGet(keys []string) (conflict []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	conflict = make([]bool, len(keys))
	found := false
	for i, k := range keys {
		if h := l.items[k]; k != "" && h != nil && (h.txnWrites > 0 || h.writes > 0) {
			conflict[i], found = true, true
		}
	}
	if found {
		return conflict
	}
	return nil
}

// write applies rule 1 to a single-item write and, if it passes, holds the
// item for rule 3.
func (l *lockTable) write(key string) (ok bool, release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.items[key]; key != "" && h != nil && h.txnWrites > 0 {
		return false, nil
	}
	return true, l.take([]string{key}, false)
}

// batchWrite holds a BatchWriteItem's items for rule 3; the documented rules
// give it no conflict of its own.
func (l *lockTable) batchWrite(keys []string) (release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.take(keys, false)
}

// attrs is a DynamoDB JSON attribute map, values left undecoded.
type attrs map[string]json.RawMessage

type keyed struct {
	TableName string
	Key       attrs
	Item      attrs
}

type transactWriteRequest struct {
	TransactItems []struct {
		ConditionCheck, Put, Delete, Update *keyed
	}
}

type transactGetRequest struct {
	TransactItems []struct{ Get *keyed }
}

type batchWriteRequest struct {
	RequestItems map[string][]struct {
		PutRequest    *struct{ Item attrs }
		DeleteRequest *struct{ Key attrs }
	}
}

// admit applies the conflict rules to one data call. It returns the
// release of the items the call holds, or the answer refusing it. A body
// the model cannot read passes unmodelled: DynamoDB Local judges it.
func (p *Proxy) admit(ctx context.Context, hdr http.Header, op string, body []byte) (release func(), refusal any) {
	noop := func() {}
	db := database(hdr)
	switch op {
	case "TransactWriteItems":
		var req transactWriteRequest
		if json.Unmarshal(body, &req) != nil {
			return noop, nil
		}
		keys := make([]string, len(req.TransactItems))
		for i, ti := range req.TransactItems {
			for _, k := range []*keyed{ti.ConditionCheck, ti.Put, ti.Delete, ti.Update} {
				if k != nil {
					keys[i] = p.itemKey(ctx, hdr, db, k)
					break
				}
			}
		}
		conflict, rel := p.locks.transactWrite(keys)
		if conflict != nil {
			return nil, canceled(conflict)
		}
		return rel, nil
	case "TransactGetItems":
		var req transactGetRequest
		if json.Unmarshal(body, &req) != nil {
			return noop, nil
		}
		keys := make([]string, len(req.TransactItems))
		for i, ti := range req.TransactItems {
			if ti.Get != nil {
				keys[i] = p.itemKey(ctx, hdr, db, ti.Get)
			}
		}
		if conflict := p.locks.transactGet(keys); conflict != nil {
			return nil, canceled(conflict)
		}
		return noop, nil
	case "PutItem", "UpdateItem", "DeleteItem":
		var req keyed
		if json.Unmarshal(body, &req) != nil {
			return noop, nil
		}
		ok, rel := p.locks.write(p.itemKey(ctx, hdr, db, &req))
		if !ok {
			return nil, apiError{Type: errorType("TransactionConflictException"), Message: conflictMessage}
		}
		return rel, nil
	case "BatchWriteItem":
		var req batchWriteRequest
		if json.Unmarshal(body, &req) != nil {
			return noop, nil
		}
		var keys []string
		for table, reqs := range req.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					keys = append(keys, p.itemKey(ctx, hdr, db, &keyed{TableName: table, Item: r.PutRequest.Item}))
				case r.DeleteRequest != nil:
					keys = append(keys, p.itemKey(ctx, hdr, db, &keyed{TableName: table, Key: r.DeleteRequest.Key}))
				}
			}
		}
		return p.locks.batchWrite(keys), nil
	}
	return noop, nil
}

// database names the DynamoDB Local database a call goes to: without
// -sharedDb, DynamoDB Local keeps one per access key and region, read from
// the SigV4 Authorization header.
func database(hdr http.Header) string {
	_, cred, ok := strings.Cut(hdr.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) < 3 {
		return cred
	}
	return parts[0] + "/" + parts[2]
}

// tableName accepts a table name or a table ARN.
func tableName(s string) string {
	if _, rest, ok := strings.Cut(s, ":table/"); ok && strings.HasPrefix(s, "arn:") {
		name, _, _ := strings.Cut(rest, "/")
		return name
	}
	return s
}

// itemKey is the lock-table key of one item: database, table and the key
// attributes in canonical JSON. "" if the key cannot be known (a Put on a
// table whose key schema DynamoDB Local does not give).
func (p *Proxy) itemKey(ctx context.Context, hdr http.Header, db string, k *keyed) string {
	table := tableName(k.TableName)
	if table == "" {
		return ""
	}
	key := k.Key
	if key == nil {
		names, ok := p.keySchema(ctx, hdr, db, table)
		if !ok || k.Item == nil {
			return ""
		}
		key = attrs{}
		for _, n := range names {
			v, ok := k.Item[n]
			if !ok {
				return ""
			}
			key[n] = v
		}
	}
	canon := map[string][2]string{}
	for name, raw := range key {
		t, v, ok := scalar(raw)
		if !ok {
			return ""
		}
		canon[name] = [2]string{t, v}
	}
	out, err := json.Marshal(struct {
		DB, Table string
		Key       map[string][2]string
	}{db, table, canon}) // json.Marshal sorts map keys
	if err != nil {
		return ""
	}
	return string(out)
}

// scalar reads a key attribute value ({"S": ...}, {"N": ...} or {"B": ...}).
// Numbers are normalised, as DynamoDB compares them by value.
func scalar(raw json.RawMessage) (typ, val string, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return "", "", false
	}
	for t, v := range m {
		var s string
		if (t != "S" && t != "N" && t != "B") || json.Unmarshal(v, &s) != nil {
			return "", "", false
		}
		if t == "N" {
			if r, ok := new(big.Rat).SetString(s); ok {
				s = r.RatString()
			}
		}
		return t, s, true
	}
	return "", "", false
}

// schemaCache holds each table's key attribute names, per database.
type schemaCache struct {
	mu sync.Mutex
	m  map[string][]string
}

// keySchema returns a table's key attribute names, asking DynamoDB Local
// (DescribeTable, with the caller's credentials so as to reach the same
// database) once per table.
func (p *Proxy) keySchema(ctx context.Context, hdr http.Header, db, table string) ([]string, bool) {
	id := db + "\x00" + table
	p.schemas.mu.Lock()
	names, ok := p.schemas.m[id]
	p.schemas.mu.Unlock()
	if ok {
		return names, true
	}
	body, _ := json.Marshal(map[string]string{"TableName": table})
	u := *p.target
	u.Path = strings.TrimRight(u.Path, "/") + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", targetPrefix+"DescribeTable")
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := hdr.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, false
	}
	defer res.Body.Close()
	var out struct {
		Table struct {
			KeySchema []struct{ AttributeName string }
		}
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&out) != nil || len(out.Table.KeySchema) == 0 {
		return nil, false
	}
	for _, k := range out.Table.KeySchema {
		names = append(names, k.AttributeName)
	}
	p.schemas.mu.Lock()
	p.schemas.m[id] = names
	p.schemas.mu.Unlock()
	return names, true
}
