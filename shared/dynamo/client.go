package dynamo

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
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
//
// It reads the region and credentials from the environment, as Lambda sets
// them (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), instead of the SDK's whole default chain: that chain
// (SSO, STS, instance metadata, shared files) is 14% of every function's
// binary and init, and a function never uses it. Against DynamoDB Local,
// fixed credentials keep a developer's AWS profile out of local runs.
func NewClient(_ context.Context, cc ClientConfig) (*dynamodb.Client, error) {
	region := os.Getenv("AWS_REGION")
	creds := credentials.NewStaticCredentialsProvider(
		os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	if cc.Endpoint != "" {
		region, creds = "us-east-1", credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	cfg := aws.Config{Region: region, Credentials: aws.NewCredentialsCache(creds)}
	if cc.RetryMaxAttempts > 0 {
		cfg.RetryMaxAttempts = cc.RetryMaxAttempts
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
