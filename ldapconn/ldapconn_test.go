package ldapconn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

func TestDial_CancelEndsABindTheServerNeverAnswers(t *testing.T) {
	err := ldaptest.DialCancelledMidBind(t, func(ctx context.Context, d *config.Directory) error {
		c, err := ldapconn.Dial(ctx, d)
		if c != nil {
			c.Close()
		}
		return err
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ldapconn.ErrConnect) {
		t.Fatalf("Dial = %v; want ErrConnect wrapping context.Canceled", err)
	}
}
