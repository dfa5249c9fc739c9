package api

import (
	"log/slog"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// MetricsNamespace is where the service's own metrics land in CloudWatch.
const MetricsNamespace = "Treasury"

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
	attrs := make([]any, 0, len(values)+2)
	for name, v := range values {
		unit := "Count"
		if name == metrics.ReadCapacityUnits || name == metrics.WriteCapacityUnits {
			unit = "None"
		}
		defs = append(defs, map[string]string{"Name": name, "Unit": unit})
		attrs = append(attrs, slog.Float64(name, v))
	}
	attrs = append(attrs,
		slog.String("Operation", operation),
		slog.Any("_aws", map[string]any{
			"Timestamp": started.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace": MetricsNamespace,
				// Per operation, and once without dimension for the
				// service-wide alarms.
				"Dimensions": [][]string{{"Operation"}, {}},
				"Metrics":    defs,
			}},
		}))
	return attrs
}
