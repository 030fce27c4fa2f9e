package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// param is one OData query option, kept in order.
type param struct{ key, value string }

// escapeQuery escapes a query value, using %20 rather than "+" for spaces
// (Graph documents %20 in $filter examples).
func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// endpoint builds base + path + query. Each path segment is escaped with
// url.PathEscape (a UPN may contain @, #, ', / or %). Query keys such as
// "$select" are written literally.
func (c *Client) endpoint(segments []string, params ...param) string {
	var b strings.Builder
	b.WriteString(c.baseURL)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	sep := byte('?')
	for _, p := range params {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(escapeQuery(p.value))
	}
	return b.String()
}

// QuoteOData returns s as an OData string literal: in single quotes, with
// each ' doubled.
func QuoteOData(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// page is one page of a Graph collection.
type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// getJSON GETs rawURL and decodes the 2xx body into out.
func (c *Client) getJSON(ctx context.Context, rawURL string, out any) error {
	status, body, err := c.get(ctx, rawURL)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("graph: GET %s: decode %d response: %w", rawURL, status, err)
	}
	return nil
}

// walk GETs first and every following @odata.nextLink, calling fn for each
// item; it stops at the first error from fn and returns it unwrapped. A
// nextLink must stay on the client's scheme and host, so the bearer token
// is never sent elsewhere.
func walk[T any](ctx context.Context, c *Client, first string, fn func(T) error) error {
	next := first
	seen := map[string]bool{}
	for n := 1; next != ""; n++ {
		if seen[next] {
			return fmt.Errorf("graph: GET %s: @odata.nextLink repeats an earlier page", next)
		}
		seen[next] = true
		var p page[T]
		if err := c.getJSON(ctx, next, &p); err != nil {
			return err
		}
		for _, v := range p.Value {
			if err := fn(v); err != nil {
				return err
			}
		}
		if p.NextLink != "" {
			if err := c.checkNextLink(p.NextLink); err != nil {
				return fmt.Errorf("graph: GET %s: %w", next, err)
			}
			c.log.DebugContext(ctx, "graph: following nextLink", "page", n+1)
		}
		next = p.NextLink
	}
	return nil
}

// checkNextLink refuses a nextLink that is relative or points to another
// scheme or host than the base URL.
func (c *Client) checkNextLink(link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("bad @odata.nextLink: %w", err)
	}
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return fmt.Errorf("@odata.nextLink %s is not on %s://%s: refused", link, c.base.Scheme, c.base.Host)
	}
	return nil
}
