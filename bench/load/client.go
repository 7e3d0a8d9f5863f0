package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection with a hand-written request and a minimal response reader: the
// generator has one core, and net/http's client would spend more of it per request than the no-auth server.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 4096), buf: make([]byte, 0, 2048)}, nil
}

// do sends GET /api/messages with the bearer token and returns the response status.
func (c *conn) do(token string) (int, error) {
	c.buf = append(c.buf[:0], "GET /api/messages HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "...)
	c.buf = append(c.buf, token...)
	c.buf = append(c.buf, "\r\n\r\n"...)
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(c.buf); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(h, []byte(":")); ok {
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
				if err != nil {
					return 0, fmt.Errorf("bad Content-Length %q", h)
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				return 0, errors.New("chunked responses are not read by this client")
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	return code, nil
}

func (c *conn) close() { _ = c.c.Close() }
