// Package lambdalog builds a function's logger the way Lambda's
// LoggingConfig expects it: JSON lines on stdout, at AWS_LAMBDA_LOG_LEVEL.
package lambdalog

import (
	"log/slog"
	"os"
)

// New returns the function's logger.
func New() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level()}))
}

// level follows AWS_LAMBDA_LOG_LEVEL (set by LoggingConfig); info when unset.
func level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
