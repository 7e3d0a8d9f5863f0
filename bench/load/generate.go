package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jwtauth-go/jwtauth/bench"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// jwksServer is the issuer's key endpoint on loopback; it counts fetches, and rotate adds keys to it.
type jwksServer struct {
	url     string
	srv     *http.Server
	fetches atomic.Int64
	mu      sync.Mutex
	keys    []any // public JWKs, the fixed key first
	body    atomic.Pointer[[]byte]
}

func startJWKS(alg string) (*jwksServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &jwksServer{url: "http://" + ln.Addr().String() + "/jwks.json"}
	signer, kid := bench.LoadKey(alg)
	s.add(jwtauthtest.PublicJWK(signer.Public(), kid, alg))
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// add publishes one more key, keeping the fixed key and the three newest.
func (s *jwksServer) add(jwk any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, jwk)
	if len(s.keys) > 4 {
		s.keys = append(s.keys[:1], s.keys[len(s.keys)-3:]...)
	}
	b, err := json.Marshal(map[string]any{"keys": s.keys})
	if err != nil {
		panic(err)
	}
	s.body.Store(&b)
}

func (s *jwksServer) close() { _ = s.srv.Close() }

// traffic picks each request's token: Zipf over the valid tokens, with shares of invalid tokens, of tokens
// with unknown kids and of tokens by the newest rotated key.
type traffic struct {
	valid    []string
	invalid  []string // tampered signatures
	unknown  []string // random kids nobody publishes
	rotated  atomic.Pointer[[]string]
	pInvalid float64
	pUnknown float64
	pRotated float64
	zipf     float64
}

type kind int

const (
	kindValid kind = iota
	kindInvalid
	kindUnknown
)

type picker struct {
	t *traffic
	r *mrand.Rand
	z *mrand.Zipf
}

func (t *traffic) picker(seed uint64) *picker {
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &picker{t: t, r: r}
	if len(t.valid) > 1 {
		p.z = mrand.NewZipf(r, t.zipf, 1, uint64(len(t.valid)-1))
	}
	return p
}

func (p *picker) next() (string, kind) {
	x := p.r.Float64()
	switch {
	case x < p.t.pInvalid:
		return p.t.invalid[p.r.IntN(len(p.t.invalid))], kindInvalid
	case x < p.t.pInvalid+p.t.pUnknown:
		return p.t.unknown[p.r.IntN(len(p.t.unknown))], kindUnknown
	case x < p.t.pInvalid+p.t.pUnknown+p.t.pRotated:
		if rot := p.t.rotated.Load(); rot != nil {
			return (*rot)[p.r.IntN(len(*rot))], kindValid
		}
	}
	if p.z == nil {
		return p.t.valid[0], kindValid
	}
	return p.t.valid[p.z.Uint64()], kindValid
}

// tally counts answers: a valid token must get 200, any other 401.
type tally struct {
	requests, wrong, refusedValid atomic.Int64
}

func (t *tally) record(k kind, code int) {
	t.requests.Add(1)
	switch {
	case k == kindValid && code == 200:
	case k == kindValid && code == 401:
		t.refusedValid.Add(1) // a rotated key not fetched yet; wrong for calm runs
	case k != kindValid && code == 401:
	default:
		t.wrong.Add(1)
	}
}

// server is one row's process.
type server struct {
	cmd  *exec.Cmd
	addr string
}

func startServer(o options, row, alg, jwksURL string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve", "-row", row, "-alg", alg, "-jwks", jwksURL}
	var cmd *exec.Cmd
	if o.serverCPU != "" {
		cmd = exec.Command("taskset", append([]string{"-c", o.serverCPU, self}, args...)...)
	} else {
		cmd = exec.Command(self, args...)
	}
	// The server's stderr (jwtauth's refusal logs) is dropped: they would drown the tables.
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("row %s did not start: %q %v", row, line, err)
	}
	return &server{cmd: cmd, addr: addr}, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// cpuTime is the server's user+system CPU time so far (/proc/PID/stat utime+stime; taskset execs, so the PID
// is the server's own).
func (s *server) cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// peakRSS is the server's VmHWM in bytes.
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// saturate runs a closed loop on conns connections for d and returns requests/s.
func saturate(addr string, t *traffic, conns int, d time.Duration, ta *tally) (float64, error) {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	var n atomic.Int64
	var firstErr atomic.Pointer[error]
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			p := t.picker(uint64(i) + uint64(start.UnixNano()))
			for time.Now().Before(deadline) {
				token, k := p.next()
				code, err := c.do(token)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				ta.record(k, code)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, *e
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// offer runs an open loop at rate requests/s for d: request i is due at start+i/rate whatever the server does,
// and its latency counts from then, so waiting for a free connection is latency too. It returns the latencies
// of valid requests, sorted, and the number of requests sent.
func offer(addr string, t *traffic, conns int, rate float64, d time.Duration, ta *tally) ([]time.Duration, int64, error) {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return nil, 0, err
	}
	defer closeAll(cs)
	pool := make(chan *conn, len(cs))
	for _, c := range cs {
		pool <- c
	}
	var mu sync.Mutex
	lats := make([]time.Duration, 0, int(rate*d.Seconds())+1)
	var firstErr atomic.Pointer[error]
	var pmu sync.Mutex
	p := t.picker(uint64(time.Now().UnixNano()))
	var wg sync.WaitGroup
	start := time.Now()
	total := int64(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		pmu.Lock()
		token, k := p.next()
		pmu.Unlock()
		wg.Go(func() {
			c := <-pool
			code, err := c.do(token)
			lat := time.Since(due)
			pool <- c
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			ta.record(k, code)
			if k == kindValid {
				mu.Lock()
				lats = append(lats, lat)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, 0, *e
	}
	slices.Sort(lats)
	return lats, total, nil
}

// sendAll sends every token once, closed loop.
func sendAll(addr string, tokens []string, conns int, ta *tally) error {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return err
	}
	defer closeAll(cs)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(tokens)); i = next.Add(1) - 1 {
				code, err := c.do(tokens[i])
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				ta.record(kindValid, code)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return *e
	}
	return nil
}

func dialAll(addr string, n int) ([]*conn, error) {
	cs := make([]*conn, 0, n)
	for range n {
		c, err := dial(addr)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		c.close()
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// unknownKids are tokens whose kid nobody publishes: the valid token with its header's kid replaced (the
// signature no longer matters: the kid lookup fails first).
func unknownKids(token string, n int) []string {
	parts := strings.SplitN(token, ".", 3)
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(hb, &h)
	out := make([]string, n)
	for i := range out {
		var b [8]byte
		_, _ = rand.Read(b[:])
		h["kid"] = fmt.Sprintf("unknown-%x", b)
		nb, _ := json.Marshal(h)
		out[i] = base64.RawURLEncoding.EncodeToString(nb) + "." + parts[1] + "." + parts[2]
	}
	return out
}

// tampered changes one signature character of each of the first n tokens.
func tampered(tokens []string, n int) []string {
	out := make([]string, min(n, len(tokens)))
	for i := range out {
		out[i] = bench.Tamper(tokens[i])
	}
	return out
}

func newKey(alg string) (crypto.Signer, error) {
	if alg == "RS256" {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// pin moves this process (all its threads) to cpus and sizes GOMAXPROCS to them.
func pin(cpus string) error {
	if cpus == "" {
		return nil
	}
	out, err := exec.Command("taskset", "-a", "-pc", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset: %v: %s (use -gen-cpu '' -server-cpu '' to run unpinned)", err, out)
	}
	runtime.GOMAXPROCS(strings.Count(cpus, ",") + 1)
	return nil
}
