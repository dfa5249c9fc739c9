package api

import (
	"log/slog"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// MetricsNamespace is where the service's own metrics land in CloudWatch.
const MetricsNamespace = "Treasury"

// perOperationMetrics are also kept per operation.
var perOperationMetrics = map[string]bool{"Requests": true, "ServerErrors": true}

// emf returns the attributes that make the request's log line a CloudWatch
// Embedded Metric Format record: one metric per business outcome (posted,
// refused, server error), the conflict retries, and the DynamoDB round trips
// and capacity units the request cost. CloudWatch extracts them from the log
// line; no PutMetricData call, no extra latency.
func emf(operation string, status int, outcome string, c *metrics.Counters, started time.Time) []any {
	values := map[string]float64{"Requests": 1}
	switch {
	case status >= 500:
		values["ServerErrors"] = 1
	case status >= 400:
		values["Refused"] = 1
	case outcome == ledger.TxnPosted || outcome == ledger.TxnPending || outcome == ledger.TxnRejected:
		values["Posted"] = 1
	}
	for _, n := range c.Names() {
		values[n] = c.Get(n)
	}
	for _, n := range []string{metrics.ConflictRetries, metrics.DynamoDBCalls} {
		values[n] += 0 // always present, so dashboards see zeros
	}
	defs := make([]map[string]string, 0, len(values))
	var perOperation []map[string]string
	attrs := make([]any, 0, len(values)+2)
	for name, v := range values {
		unit := "Count"
		if name == metrics.ReadCapacityUnits || name == metrics.WriteCapacityUnits || name == metrics.ModelWriteUnits || name == metrics.LargestItemBytes {
			unit = "None"
		}
		def := map[string]string{"Name": name, "Unit": unit}
		defs = append(defs, def)
		if perOperationMetrics[name] {
			perOperation = append(perOperation, def)
		}
		attrs = append(attrs, slog.Float64(name, v))
	}
	// Every metric service-wide (no dimension; the alarms read these), and
	// only requests and errors per operation: each metric and dimension
	// value is a billed custom metric, and 20 operations × every counter
	// would cost more than the ledger's own traffic at small volume. The
	// log line keeps every counter per request for Logs Insights.
	directives := []map[string]any{{"Namespace": MetricsNamespace, "Dimensions": [][]string{{}}, "Metrics": defs}}
	if len(perOperation) > 0 {
		directives = append(directives, map[string]any{"Namespace": MetricsNamespace, "Dimensions": [][]string{{"Operation"}}, "Metrics": perOperation})
	}
	attrs = append(attrs,
		slog.String("Operation", operation),
		slog.Any("_aws", map[string]any{"Timestamp": started.UnixMilli(), "CloudWatchMetrics": directives}))
	return attrs
}
