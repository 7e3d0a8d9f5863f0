package testsvc

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inline sends one inline command (RESP) to the server of rawURL and returns the first reply line, or the error.
func inline(rawURL, command string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" { // a bulk string: its value is on the next line
		line, err = r.ReadString('\n')
	}
	return strings.TrimSpace(line), err
}

func TestStartRedis_StopRefusesConnectionsAndStartKeepsTheData(t *testing.T) {
	r := StartRedis(t)
	require.True(t, strings.HasPrefix(r.URL, "redis://127.0.0.1:"), r.URL)
	reply, err := inline(r.URL, "SET "+RedisPrefix(t)+"k v")
	require.NoError(t, err)
	require.Equal(t, "+OK", reply)

	r.Stop()
	_, err = inline(r.URL, "PING")
	assert.Error(t, err, "nothing listens while stopped")

	r.Start()
	reply, err = inline(r.URL, "KEYS test:*")
	require.NoError(t, err)
	assert.Equal(t, "*1", reply, "the key written before the stop is still there")
}

func TestRedisPrefix_DiffersPerCall(t *testing.T) {
	a, b := RedisPrefix(t), RedisPrefix(t)
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^test:[0-9a-f]{16}:$`, a)
}
