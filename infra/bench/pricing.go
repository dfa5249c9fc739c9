package bench

import "math"

// PriceDate says when the prices below were read; every table that uses
// them says so.
const PriceDate = "list prices as of 2026-11, us-east-1"

// Prices are the AWS list prices the cost model uses, in US dollars.
type Prices struct {
	// DynamoDB on-demand.
	WriteUnit, ReadUnit float64 // per request unit
	StorageGBMonth      float64 // table and index storage
	PITRGBMonth         float64 // continuous backups (point-in-time recovery is on)
	// Lambda, arm64.
	LambdaGBSecond float64
	LambdaRequest  float64
	// API Gateway HTTP API (first 300 million requests a month).
	HTTPAPIRequest float64
	// CloudWatch.
	LogIngestGB        float64
	CustomMetricMonth  float64 // first 10,000 metrics
	FunctionMemoryMB   float64 // template.yaml Globals: MemorySize
	LambdaFullCoreMB   float64 // the memory at which a function has one vCPU
	BillingGranularity float64 // ms
}

// ListPrices are the prices of PriceDate.
var ListPrices = Prices{
	WriteUnit:          0.625 / 1e6,
	ReadUnit:           0.125 / 1e6,
	StorageGBMonth:     0.25,
	PITRGBMonth:        0.20,
	LambdaGBSecond:     0.0000133334,
	LambdaRequest:      0.20 / 1e6,
	HTTPAPIRequest:     1.00 / 1e6,
	LogIngestGB:        0.50,
	CustomMetricMonth:  0.30,
	FunctionMemoryMB:   128,
	LambdaFullCoreMB:   1769,
	BillingGranularity: 1,
}

// LatencyModel is DynamoDB's latency as seen from Lambda in the same region.
type LatencyModel struct {
	CallMillis        float64 // GetItem, BatchGetItem, Query
	TransactionMillis float64 // TransactWriteItems
}

// AWSLatency is the rule of thumb the cost tables use.
var AWSLatency = LatencyModel{CallMillis: 8, TransactionMillis: 25}

// BilledMillis rounds a duration up to Lambda's billing granularity (at
// least one unit).
func (p Prices) BilledMillis(ms float64) float64 {
	g := p.BillingGranularity
	return math.Max(g, math.Ceil(ms/g-1e-9)*g)
}

// LambdaCost is one invocation of a function that ran for ms milliseconds:
// the request fee and the GB-seconds at the function's memory.
func (p Prices) LambdaCost(ms float64) float64 {
	return p.LambdaRequest + p.BilledMillis(ms)/1000*p.FunctionMemoryMB/1024*p.LambdaGBSecond
}

// CPUShare is the fraction of a vCPU a function of the configured memory
// gets: Lambda allocates CPU in proportion to memory.
func (p Prices) CPUShare() float64 { return p.FunctionMemoryMB / p.LambdaFullCoreMB }

// PerMillion turns a per-request cost into dollars per million requests.
func PerMillion(perRequest float64) float64 { return perRequest * 1e6 }

// Server is one always-on component of the server-and-Postgres design.
type Server struct {
	Name      string
	HourlyUSD float64
}

// MonthHours is AWS's billing month.
const MonthHours = 730

// PostgresTier is the always-on design sized for a volume: a Multi-AZ RDS
// for PostgreSQL instance, gp3 storage, and the ledger server's compute.
type PostgresTier struct {
	Instance       Server
	StorageGBMonth float64 // Multi-AZ gp3
	MinStorageGB   float64
	Compute        []Server
}

// Postgres instance and compute prices (on-demand, us-east-1, PriceDate).
var (
	RDSMicro  = Server{"RDS for PostgreSQL db.t4g.micro Multi-AZ (2 vCPU burstable, 1 GiB)", 2 * 0.016}
	RDSMedium = Server{"RDS for PostgreSQL db.t4g.medium Multi-AZ (2 vCPU burstable, 4 GiB)", 2 * 0.065}
	RDSLarge  = Server{"RDS for PostgreSQL db.r6g.large Multi-AZ (2 vCPU, 16 GiB)", 2 * 0.225}
	// Fargate arm64: $0.03238 per vCPU-hour, $0.00356 per GB-hour.
	FargateSmall = Server{"2 Fargate arm64 tasks of 0.25 vCPU / 0.5 GB (two AZs)", 2 * (0.25*0.03238 + 0.5*0.00356)}
	FargateLarge = Server{"2 Fargate arm64 tasks of 1 vCPU / 2 GB (two AZs)", 2 * (1*0.03238 + 2*0.00356)}
	// Application Load Balancer: $0.0225 an hour plus $0.008 per LCU-hour.
	ALBLight = Server{"Application Load Balancer, ~1 LCU", 0.0225 + 0.008}
	ALBBusy  = Server{"Application Load Balancer, ~3 LCU", 0.0225 + 3*0.008}
)

// RDSStorageGBMonth is Multi-AZ gp3 storage (twice the Single-AZ $0.115).
const RDSStorageGBMonth = 0.23
