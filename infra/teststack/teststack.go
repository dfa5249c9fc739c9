// Package teststack gives tests the real local stack: DynamoDB Local (shared
// through DYNAMODB_ENDPOINT, or started for the test binary), a table of the
// test's own, and the local gateway on a free loopback port, so that tests
// speak HTTP to the same handlers Lambda runs.
package teststack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/treasuryledger/treasury/infra/ddbmodel"
	"github.com/treasuryledger/treasury/infra/dynamodblocal"
	"github.com/treasuryledger/treasury/infra/localauth"
	"github.com/treasuryledger/treasury/infra/localgateway"
	"github.com/treasuryledger/treasury/infra/localstream"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/sequencer"
)

// Stack is one running local stack.
type Stack struct {
	URL    string
	DB     *dynamodb.Client
	Table  string
	Store  *dynamo.Store
	Server *api.Server
	Key    *rsa.PrivateKey
	logs   *lockedWriter
	close  []func()
}

// LogBytes returns a copy of every log line written so far.
func (s *Stack) LogBytes() []byte {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return append([]byte(nil), s.logs.buf.Bytes()...)
}

// RandomID returns a short random suffix for tables and tenants, so that
// two runs never share data.
func RandomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewTable connects to DynamoDB Local and creates a fresh table.
func NewTable(ctx context.Context) (*dynamodb.Client, string, func(), error) {
	endpoint, stop, err := dynamodblocal.ForTests(ctx)
	if err != nil {
		return nil, "", nil, fmt.Errorf("DynamoDB Local is needed for this test and could not start: %w", err)
	}
	db, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: endpoint})
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	table := "treasury-test-" + RandomID()
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		stop()
		return nil, "", nil, err
	}
	return db, table, stop, nil
}

// Start brings up a stack. Call Close when done (TestMain).
func Start(ctx context.Context) (*Stack, error) { return StartWith(ctx, Options{}) }

// Options vary a stack for measurements.
type Options struct {
	// Model puts the DynamoDB model (infra/ddbmodel, e.g. "aws") between
	// the service and DynamoDB Local; "" is none.
	Model string
	// Wrap wraps the store's DynamoDB client, e.g. to meter its calls.
	Wrap func(dynamo.API) dynamo.API
	// Log also receives the service's log lines.
	Log io.Writer
	// DropTable deletes the stack's table on Close.
	DropTable bool
}

// StartWith brings up a stack as the options say.
func StartWith(ctx context.Context, o Options) (*Stack, error) {
	db, table, stop, err := NewTable(ctx)
	if err != nil {
		return nil, err
	}
	st := &Stack{DB: db, Table: table, close: []func(){stop}}
	fail := func(err error) (*Stack, error) {
		st.Close()
		return nil, err
	}
	if o.Model != "" {
		cfg, err := ddbmodel.Parse(o.Model)
		if err != nil {
			return fail(err)
		}
		proxy := ddbmodel.New(aws.ToString(db.Options().BaseEndpoint), cfg)
		url, err := proxy.Start()
		if err != nil {
			return fail(err)
		}
		st.close = append([]func(){proxy.Close}, st.close...)
		if st.DB, err = dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: url}); err != nil {
			return fail(err)
		}
	}
	if o.DropTable {
		client := st.DB
		st.close = append([]func(){func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		}}, st.close...)
	}
	if st.Key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return fail(err)
	}
	st.logs = &lockedWriter{}
	var sink io.Writer = st.logs
	if o.Log != nil {
		sink = io.MultiWriter(st.logs, o.Log)
	}
	log := slog.New(slog.NewJSONHandler(sink, nil))
	var client dynamo.API = st.DB
	if o.Wrap != nil {
		client = o.Wrap(client)
	}
	st.Store = dynamo.New(client, table)
	st.Server = api.NewServer(app.New(st.Store), log)
	// The history sequencer of hot accounts, fed by the table's stream as
	// Lambda's event source mapping would feed it, on the service's side
	// of the model (its writes conflict and fail like the service's).
	stopSequencer := localstream.Run(aws.ToString(db.Options().BaseEndpoint), db, table, sequencer.Wants,
		sequencer.Handler{Store: dynamo.New(st.DB, table), Log: log}.Handle, log)
	st.close = append([]func(){stopSequencer}, st.close...)
	hs := httptest.NewServer(localgateway.New(st.Server, localauth.Verifier{Key: &st.Key.PublicKey}, log))
	st.URL = hs.URL
	st.close = append([]func(){hs.Close}, st.close...)
	return st, nil
}

// Close stops what Start started.
func (s *Stack) Close() {
	for _, f := range s.close {
		f()
	}
}

// Token signs a token for the caller, valid for an hour.
func (s *Stack) Token(sub, tenant, scopes string) string {
	tok, err := localauth.Sign(s.Key, localauth.Token{Sub: sub, Tenant: tenant, Scope: scopes, TTL: time.Hour}, time.Now())
	if err != nil {
		panic(err) // signing with a fresh RSA key cannot fail
	}
	return tok
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). headers are name, value pairs.
func (s *Stack) Do(t testing.TB, method, path, token string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// lockedWriter serialises log writes from concurrent requests.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
