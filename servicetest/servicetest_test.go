package servicetest

import (
	"net"
	"strings"
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

func TestRedisWithPasswordRequiresIt(t *testing.T) {
	r := StartRedisWithPassword(t, "pw-for-test")
	send := func(cmds string) string {
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			return "dial: " + err.Error()
		}
		defer c.Close()
		c.Write([]byte(cmds))
		buf := make([]byte, 128)
		got := ""
		for i := 0; i < 10 && strings.Count(got, "\r\n") < strings.Count(cmds, "\r\n"); i++ {
			n, err := c.Read(buf)
			got += string(buf[:n])
			if err != nil {
				break
			}
		}
		return got
	}
	if got := send("PING\r\n"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("PING without the password = %q, want NOAUTH", got)
	}
	if got := send("AUTH pw-for-test\r\nPING\r\n"); got != "+OK\r\n+PONG\r\n" {
		t.Fatalf("AUTH + PING = %q", got)
	}
	r.Stop()
	r.Start() // the password survives a restart
	if got := send("PING\r\n"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("PING without the password after restart = %q, want NOAUTH", got)
	}
}
