package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jwtauth-go/jwtauth/bench"
)

func rowsList() []string { return bench.LoadRows() }

// fatalT lets the server use the suite's row constructors: a construction failure ends the process.
type fatalT struct{ cleanups []func() }

func (t *fatalT) Fatal(args ...any) { log.Fatal(args...) }
func (t *fatalT) Cleanup(f func())  { t.cleanups = append(t.cleanups, f) }
func (t *fatalT) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// serve runs one row until SIGTERM or SIGINT. Its first line on stdout is "listening <addr>".
func serve(o options) error {
	t := &fatalT{}
	defer t.close()
	h, err := bench.LoadHandler(t, o.row, o.alg, o.jwks)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
