package coldstart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// BuildFlags are the flags of the Makefile's build-lambda (a test holds the
// two equal); builds are also static (CGO_ENABLED=0).
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Build builds the main packages pkgs (as `go build` takes them, relative to
// moduleDir) for goos/goarch with BuildFlags in one go command, and puts each
// at outDir/<last path element>/bootstrap. It returns those paths by package.
func Build(ctx context.Context, moduleDir, goos, goarch, outDir string, pkgs ...string) (map[string]string, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	staging, err := os.MkdirTemp(outDir, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	args := append([]string{"build", "-o", staging + string(filepath.Separator)}, BuildFlags...)
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("GOOS=%s GOARCH=%s go %s: %v\n%s", goos, goarch, strings.Join(args, " "), err, out)
	}
	bins := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		base := path.Base(filepath.ToSlash(p))
		dir := filepath.Join(outDir, base)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, "bootstrap")
		if err := os.Rename(filepath.Join(staging, base), dst); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		bins[p] = dst
	}
	return bins, nil
}
