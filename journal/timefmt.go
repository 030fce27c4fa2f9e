package journal

import (
	"database/sql"
	"fmt"
	"time"
)

// timeLayout is RFC3339 with a fixed nine-digit fraction: it parses as
// time.RFC3339Nano and, unlike it, sorts lexically in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func parseNullTime(ns sql.NullString) (*time.Time, error) {
	if !ns.Valid {
		return nil, nil
	}
	t, err := parseTime(ns.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
