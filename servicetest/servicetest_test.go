package servicetest

import (
	"net"
	"testing"
)

func TestRedisStartsStopsAndRestarts(t *testing.T) {
	r := StartRedis(t)
	ping := func() string {
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			return "dial: " + err.Error()
		}
		defer c.Close()
		c.Write([]byte("PING\r\n"))
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		return string(buf[:n])
	}
	if got := ping(); got != "+PONG\r\n" {
		t.Fatalf("PING = %q", got)
	}
	r.Stop()
	if _, err := net.Dial("tcp", r.Addr); err == nil {
		t.Fatal("redis still accepting connections after Stop")
	}
	r.Start()
	if got := ping(); got != "+PONG\r\n" {
		t.Fatalf("PING after restart = %q", got)
	}
}
