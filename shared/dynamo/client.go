package dynamo

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientConfig says where the table lives.
type ClientConfig struct {
	// Endpoint is DynamoDB Local's URL; empty on AWS.
	Endpoint string
	// RetryMaxAttempts overrides the SDK's retry count (1 = no retry, for
	// readiness polls); zero keeps the SDK's default.
	RetryMaxAttempts int
}

// ConfigFromEnv reads DYNAMODB_ENDPOINT.
func ConfigFromEnv() ClientConfig {
	return ClientConfig{Endpoint: os.Getenv("DYNAMODB_ENDPOINT")}
}

// NewClient builds the DynamoDB client once per process (in main, or once
// per test binary).
func NewClient(ctx context.Context, cc ClientConfig) (*dynamodb.Client, error) {
	var opts []func(*config.LoadOptions) error
	if cc.Endpoint != "" {
		// DynamoDB Local takes any credentials and region; fixed ones keep
		// a developer's AWS profile out of local runs.
		opts = append(opts,
			config.WithRegion("us-east-1"),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
		)
	}
	if cc.RetryMaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cc.RetryMaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, meter)
		if cc.Endpoint != "" {
			o.BaseEndpoint = aws.String(cc.Endpoint)
			// DynamoDB Local's 400 answers carry no CRC32 header.
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}
