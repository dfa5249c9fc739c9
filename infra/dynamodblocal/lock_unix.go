//go:build unix

package dynamodblocal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on a data folder for as long as the
// returned file stays open. Two DynamoDB Local processes on one folder
// share its SQLite file without coordination: transactional writes then
// fail with 500s or are lost silently (a reversal answered 201, read back
// as 404), so a second start on a folder in use is refused.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dynamodblocal: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("dynamodblocal: %s is in use by another DynamoDB Local (another `make run` on this data folder?); stop it, or give this one its own folder (make run DATA=.local-2)", dir)
		}
		return nil, fmt.Errorf("dynamodblocal: lock %s: %w", path, err)
	}
	return f, nil
}
