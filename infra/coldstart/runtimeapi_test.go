package coldstart

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The stand-in answers the calls aws-lambda-go makes, with the headers and
// status codes it checks.
func TestRuntimeAPIProtocol(t *testing.T) {
	r, err := NewRuntimeAPI([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	base := "http://" + r.Addr() + "/2018-06-01/runtime/"
	if !strings.HasPrefix(r.Addr(), "127.0.0.1:") {
		t.Errorf("address %s, want 127.0.0.1:port", r.Addr())
	}

	resp, err := http.Get(base + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"a":1}` {
		t.Fatalf("next: %d %s", resp.StatusCode, body)
	}
	id := resp.Header.Get(HeaderRequestID)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("request id %q", id)
	}
	dl, err := strconv.ParseInt(resp.Header.Get(HeaderDeadlineMs), 10, 64)
	if err != nil || time.Until(time.UnixMilli(dl)) < 20*time.Second {
		t.Errorf("deadline %q", resp.Header.Get(HeaderDeadlineMs))
	}
	if arn := resp.Header.Get(HeaderInvokedFunctionArn); !strings.HasPrefix(arn, "arn:aws:lambda:") {
		t.Errorf("function ARN %q", arn)
	}
	if tr := resp.Header.Get(HeaderTraceID); !strings.HasPrefix(tr, "Root=1-") {
		t.Errorf("trace id %q", tr)
	}

	post := func(path, body string, h ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := post("invocation/"+id+"/response", `{"ok":true}`); code != http.StatusAccepted || b != `{"status":"OK"}` {
		t.Errorf("response: %d %s", code, b)
	}
	if code, _ := post("invocation/"+id+"/response", `{}`); code != http.StatusBadRequest {
		t.Errorf("second response to one id: %d, want 400", code)
	}
	if code, _ := post("invocation/nope/error", `{}`); code != http.StatusBadRequest {
		t.Errorf("error for an unknown id: %d, want 400", code)
	}
	if code, _ := post("init/error", `{"errorMessage":"x"}`, HeaderErrorType, "Runtime.Test"); code != http.StatusAccepted {
		t.Errorf("init/error: %d", code)
	}

	// With the queue empty, next waits (as Lambda does between invokes).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"invocation/next", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("second next answered %d, want it to wait", resp.StatusCode)
	}

	var kinds []string
	for _, c := range r.Calls() {
		kinds = append(kinds, string(c.Kind))
		if c.At.IsZero() {
			t.Errorf("%s call without a time", c.Kind)
		}
	}
	if got := strings.Join(kinds, ","); got != "next,response,init/error,next" {
		t.Errorf("recorded %s", got)
	}
	calls := r.Calls()
	if string(calls[1].Body) != `{"ok":true}` || calls[1].RequestID != id {
		t.Errorf("response recorded as %+v", calls[1])
	}
	if calls[2].ErrorType != "Runtime.Test" {
		t.Errorf("init error type %q", calls[2].ErrorType)
	}
}
