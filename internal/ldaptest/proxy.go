package ldaptest

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
)

// Proxy is a TCP proxy in front of a test directory, for faults that must not touch the shared
// Samba processes (other packages' tests use them at the same time): Kill drops every
// connection and refuses new ones, as a DC that died; Freeze stops forwarding bytes while the
// sockets stay open, as a DC that hangs; Thaw and Revive undo them.
//
// It listens on [::1]: the test directories' certificates name IP ::1 (and localhost), so TLS
// verifies through it as it does against the directory itself.
type Proxy struct {
	t      testing.TB
	target string // host:port of the directory
	addr   string // the proxy's [::1]:port, kept across Kill and Revive

	mu     sync.Mutex
	ln     net.Listener // nil while killed
	conns  map[net.Conn]struct{}
	thawed chan struct{} // closed while bytes flow; open while frozen
	killed chan struct{} // closed by Kill; replaced by Revive
	wg     sync.WaitGroup
	// accepted counts the connections forwarded since the proxy started.
	accepted atomic.Int64
	// muted drops the directory's answers while requests still reach it.
	muted atomic.Bool
}

// Mute keeps forwarding every request to the directory but drops its answers, as a DC (or a
// network) that takes writes and then goes silent: the writes happen, the client never learns
// their outcome. Unmute lets answers through again.
func (p *Proxy) Mute() { p.muted.Store(true) }

// Unmute undoes Mute.
func (p *Proxy) Unmute() { p.muted.Store(false) }

// Accepted is how many connections the proxy has forwarded (a DC's share of a run's
// connections, when several proxies stand for several DCs).
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// NewProxy starts a proxy to d and stops it when the test ends.
func NewProxy(t testing.TB, d *Dir) *Proxy {
	t.Helper()
	u, err := url.Parse(d.Config.URL)
	if err != nil {
		t.Fatalf("proxy: %s: %v", d.Config.URL, err)
	}
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	p := &Proxy{t: t, target: net.JoinHostPort(u.Hostname(), port), conns: map[net.Conn]struct{}{},
		thawed: make(chan struct{}), killed: make(chan struct{})}
	close(p.thawed)
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

// Config returns d's settings pointed at the proxy (same scheme, CA and credentials).
func (p *Proxy) Config(d *Dir) config.Directory {
	c := d.Config
	u, _ := url.Parse(c.URL)
	u.Host = p.addr
	c.URL = u.String()
	return c
}

// Addr is the proxy's address ([::1]:port).
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	killed := p.killed
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c, killed) })
		}
	})
}

// pipe forwards one client connection to the directory, both ways, until either side ends or
// the proxy is killed.
func (p *Proxy) pipe(client net.Conn, killed <-chan struct{}) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	up, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	var wg sync.WaitGroup
	wg.Go(func() { p.copy(up, client, killed, false) })
	wg.Go(func() { p.copy(client, up, killed, true) })
	wg.Wait()
}

// copy moves bytes from src to dst; while frozen, what it has read waits, unsent; answers (the
// directory's side) are dropped while muted.
func (p *Proxy) copy(dst, src net.Conn, killed <-chan struct{}, answers bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thawed := p.thawed
			p.mu.Unlock()
			select {
			case <-thawed:
			case <-killed:
				return
			}
			if answers && p.muted.Load() {
				continue
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.killed:
		return false
	default:
	}
	p.conns[c] = struct{}{}
	p.accepted.Add(1)
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Kill closes the listener and every connection: clients see their connections reset and new
// connections refused, as with a DC whose process died.
func (p *Proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.killed:
		return
	default:
	}
	close(p.killed)
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as a dead process's sockets give
		}
		c.Close()
	}
	clear(p.conns)
}

// Revive listens again on the same address after Kill: the DC is back.
func (p *Proxy) Revive() {
	p.t.Helper()
	p.mu.Lock()
	select {
	case <-p.killed:
	default:
		p.mu.Unlock()
		return
	}
	p.killed = make(chan struct{})
	p.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// Freeze stops forwarding bytes either way; connections stay open and new ones are accepted
// (and hang), as with a DC that stopped answering.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default:
	}
}

// Thaw lets the bytes held since Freeze through, and everything after them.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// Frozen reports whether the proxy holds bytes back.
func (p *Proxy) Frozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		return false
	default:
		return true
	}
}

func (p *Proxy) stop() {
	p.Thaw()
	p.Kill()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("proxy: connections still open 10 s after the test")
	}
}
