package templatecheck

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// MaxBinaryBytes is the size budget of one function's bootstrap.
const MaxBinaryBytes = 15 << 20

// Every function of the template builds with its Makefile target, as
// `sam build` runs it (BuildMethod: makefile, ARTIFACTS_DIR set), into a
// static arm64 ELF named bootstrap within the size budget.
func TestEveryFunctionBuildsAsSamWould(t *testing.T) {
	tpl := load(t)
	var ids []string
	for id, res := range tpl.Resources {
		if res.Type == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	// The routes' functions and otherFunctions (the stream-fed ones) alike.
	for _, name := range functionNames() {
		if !slices.Contains(ids, name+"Function") {
			t.Errorf("template.yaml has no function %sFunction to build", name)
		}
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+id, "ARTIFACTS_DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			path := filepath.Join(dir, "bootstrap")
			st, err := os.Stat(path)
			if err != nil {
				t.Fatalf("no bootstrap: %v", err)
			}
			if st.Mode().Perm()&0o100 == 0 {
				t.Errorf("bootstrap is not executable: %v", st.Mode())
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF file: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
				t.Errorf("bootstrap is %v %v, want arm64", f.Machine, f.Class)
			}
			if interp := f.Section(".interp"); interp != nil {
				t.Errorf("bootstrap is dynamically linked; provided.al2023 wants a static binary")
			}
			if st.Size() > MaxBinaryBytes {
				t.Errorf("bootstrap is %.1f MB, budget %d MB", float64(st.Size())/(1<<20), MaxBinaryBytes>>20)
			}
			t.Logf("%s: %.2f MB", id, float64(st.Size())/(1<<20))
		})
	}
}
