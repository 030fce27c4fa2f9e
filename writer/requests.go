// Package writer is the target-forest adapter: it reads the objects a plan is diffed against,
// turns plan changes into LDAP add and modify requests (the same requests the LDIF export
// shows), and applies them with compare-and-set, never outside the target OU.
package writer

import (
	"bytes"
	"fmt"
	"io"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Encode converts a value from its presentation form to the bytes sent to AD.
func Encode(attr, v string) (string, error) { return directory.EncodeValue(attr, v) }

// Decode converts a raw value read from AD to its presentation form.
func Decode(attr string, raw []byte) string { return directory.DecodeValue(attr, raw) }

func encodeAll(attr string, vs []string) ([]string, error) {
	out := make([]string, len(vs))
	for i, v := range vs {
		e, err := Encode(attr, v)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// Request returns the LDAP request that applies c: an *ldap.AddRequest for a create, an
// *ldap.ModifyRequest for an update. Apply sends exactly this request, and the LDIF export
// prints it.
func Request(c plan.Change) (any, error) {
	switch c.Action {
	case plan.Create:
		req := ldap.NewAddRequest(c.DN, nil)
		for _, a := range c.Attrs {
			vals, err := encodeAll(a.Name, a.After)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.DN, err)
			}
			req.Attribute(a.Name, vals)
		}
		return req, nil
	case plan.Update:
		req := ldap.NewModifyRequest(c.DN, nil)
		for _, a := range c.Attrs {
			switch {
			case a.Incremental():
				// Delete the exact old values and add the new ones in one modify: AD compares
				// proxyAddresses case-insensitively, so SMTP:x → smtp:x must be a delete+add.
				if len(a.Delete) > 0 {
					vals, err := encodeAll(a.Name, a.Delete)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", c.DN, err)
					}
					req.Delete(a.Name, vals)
				}
				if len(a.Add) > 0 {
					vals, err := encodeAll(a.Name, a.Add)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", c.DN, err)
					}
					req.Add(a.Name, vals)
				}
			case len(a.After) == 0:
				req.Delete(a.Name, []string{})
			default:
				vals, err := encodeAll(a.Name, a.After)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.DN, err)
				}
				req.Replace(a.Name, vals)
			}
		}
		return req, nil
	case plan.Delete:
		return ldap.NewDelRequest(c.DN, nil), nil
	}
	return nil, fmt.Errorf("%s: action %q writes nothing", c.DN, c.Action)
}

// WriteLDIF writes the requests of every writing change in p as LDIF that ldapmodify replays,
// each preceded by a comment naming the change.
func WriteLDIF(w io.Writer, p *plan.Plan) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# xtmsyncd %s plan: %d to create, %d to update, %d to delete (exactly what apply sends)\n\n",
		p.Kind, p.Summary.Create, p.Summary.Update, p.Summary.Delete)
	for _, c := range p.Changes {
		if !c.Action.Writes() {
			continue
		}
		req, err := Request(c)
		if err != nil {
			return err
		}
		forest := c.Forest
		if forest == "" {
			forest = plan.ForestTarget
		}
		b.WriteString("# " + string(c.Action) + " in the " + forest + " forest, exchange_guid=" + c.Key + " source=" + c.Source + "\n")
		if err := writeLDIF(&b, req); err != nil {
			return fmt.Errorf("ldif %s: %w", c.DN, err)
		}
		if b.Len() >= 64<<10 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
