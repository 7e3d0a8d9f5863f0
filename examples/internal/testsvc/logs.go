package testsvc

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// Logs collects what a server writes (a child process's standard error, or a slog handler in process) for
// the test to read while it runs.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// ListenAddr returns the address of the examples' JSON "listening" log line ({"msg":"listening","addr":...}),
// or "" before it is written. With ADDR=127.0.0.1:0 that is how a test learns the port the server chose.
func ListenAddr(logs string) string {
	for line := range strings.Lines(logs) {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
			return entry.Addr
		}
	}
	return ""
}
