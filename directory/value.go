package directory

import (
	"encoding/base64"
	"fmt"
)

// EncodeValue converts a value from its presentation form (plans, journal) to the bytes sent to
// AD: GUIDs to AD byte order, other binary values from base64; strings unchanged.
func EncodeValue(attr, v string) (string, error) {
	switch KindOf(attr) {
	case KindGUID:
		g, err := ParseGUID(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", attr, err)
		}
		return string(g.AD()), nil
	case KindBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", fmt.Errorf("%s: value is not base64: %w", attr, err)
		}
		return string(b), nil
	}
	return v, nil
}

// DecodeValue converts a raw value read from AD to its presentation form.
func DecodeValue(attr string, raw []byte) string {
	switch KindOf(attr) {
	case KindGUID:
		if g, err := GUIDFromAD(raw); err == nil {
			return g.String()
		}
		return "invalid:" + base64.StdEncoding.EncodeToString(raw)
	case KindBinary:
		return base64.StdEncoding.EncodeToString(raw)
	}
	return string(raw)
}
