package main

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
)

// withQuarantine sets the quarantine policy of the harness's VM: the
// environment for the Go code, VM configuration lines for the compiled
// module (which sees no environment).
func (h *harness) withQuarantine(t *testing.T, threshold, coolDown string) {
	t.Helper()
	if h.guest == nil {
		t.Setenv(EnvQuarantineThreshold, threshold)
		t.Setenv(EnvQuarantineCoolDown, coolDown)
		return
	}
	h.vmConfig = append(append([]byte(nil), h.vmConfig...),
		EnvQuarantineThreshold+"="+threshold+"\n"+EnvQuarantineCoolDown+"="+coolDown+"\n"...)
}

// setNow moves the clock the plugin reads (Envoy's request.time) to unix
// seconds t.
func (r *run) setNow(t int64) {
	r.t.Helper()
	le := make([]byte, 8)
	binary.LittleEndian.PutUint64(le, uint64(t*1e9))
	if err := r.host.SetProperty([]string{"request", "time"}, le); err != nil {
		r.t.Fatalf("set request.time: %v", err)
	}
}

// wantQuarantined checks the cheap answer: 429 quarantined with Retry-After,
// given at the headers (the plugin was handed no body frame), nothing
// upstream.
func (o outcome) wantQuarantined(t *testing.T, retryAfter string) {
	t.Helper()
	o.wantReject(t, filter.ReasonQuarantined)
	if o.frames != 0 {
		t.Errorf("the quarantined request's body was handed to the plugin (%d frames)", o.frames)
	}
	if got := header(o.local.Headers, "retry-after"); got != retryAfter {
		t.Errorf("retry-after %q, want %q", got, retryAfter)
	}
}

// TestQuarantineForgedFlood: an ingress id drawing more than the threshold
// of refusals in a minute is answered 429 before its body is read, even for
// a correctly signed request; other ingress ids are verified as before; the
// quarantine is counted, logged and reported once with its end, survives a
// reconfiguration, and after the cool-down the ingress id is verified again.
func TestQuarantineForgedFlood(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		h.withQuarantine(t, "3", "30s")
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		for i := 0; i < 4; i++ { // threshold 3: the 4th refusal starts the quarantine
			r.send(forged(inSlackA)).wantReject(t, filter.ReasonBadSignature)
		}
		wantCounter(t, r, metricQuarantines("slack"), 1)
		r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantQuarantined(t, "30")
		r.send(forged(inSlackA)).wantQuarantined(t, "30")
		// Other ingress ids of the same provider and org are unaffected.
		r.send(slackReq(inSlackB, slackB, now0, slackEvent)).wantAccept(t, identity(in[inSlackB]), []byte(slackEvent))
		r.send(forged(inSlackB)).wantReject(t, filter.ReasonBadSignature)
		wantCounter(t, r, metricRejected("slack", filter.ReasonQuarantined), 2)
		wantCounter(t, r, metricQuarantines("slack"), 1) // answered 429: not counted as refusals again

		// Reported once, with the end of the cool-down, next to the refusals.
		calls := r.tick()
		if len(calls) != 1 {
			t.Fatalf("%d calls on tick, want 1", len(calls))
		}
		b := wantReport(t, calls[0])
		quar := row(identity(in[inSlackA]), filter.ReasonQuarantined, 1)
		quar.Until = now0 + 30
		want := []filter.ReportRow{
			row(identity(in[inSlackA]), filter.ReasonBadSignature, 4),
			quar,
			row(identity(in[inSlackB]), filter.ReasonBadSignature, 1),
		}
		if !reflect.DeepEqual(b.Rows, want) {
			t.Fatalf("rows:\n got %+v\nwant %+v", b.Rows, want)
		}
		// edge/rejection's tests parse these bytes with ingest's parser.
		checkGoldenFile(t, "report-quarantine.golden.json", bytes.Replace(calls[0].Body, []byte(b.ID), []byte(strings.Repeat("0", 32)), 1))
		r.answer(calls[0], "200")
		warned := 0
		for _, l := range r.host.GetWarnLogs() {
			if strings.Contains(l, "ingress quarantined") && strings.Contains(l, "ingress="+ingress(inSlackA)) {
				warned++
			}
		}
		if warned != 1 {
			t.Errorf("%d quarantine warnings, want 1: %q", warned, r.host.GetWarnLogs())
		}
		noSecretInLogs(t, r)

		// A new configuration (a new plugin context in the same VM) keeps it.
		r.reset()
		cfg.Version = "v-test-2"
		r = h.mustStart(t, marshal(t, cfg))
		r.setNow(now0 + 29)
		r.send(slackReq(inSlackA, slackNew, now0+29, slackEvent)).wantQuarantined(t, "30")

		// At the end of the cool-down the ingress id is verified again: a
		// valid request goes through, a forged one is refused for what it is.
		r.setNow(now0 + 30)
		r.send(slackReq(inSlackA, slackNew, now0+30, slackEvent)).wantAccept(t, identity(in[inSlackA]), []byte(slackEvent))
		r.send(forged(inSlackA)).wantReject(t, filter.ReasonBadSignature)
	})
}

// TestQuarantineThresholdPerMinute: refusals below the threshold in each
// minute never quarantine (the count starts again every minute), and
// host-side refusals (an unknown ingress id, a body over the limit) do not
// count: only the core's verdicts do, as at the native edge.
func TestQuarantineThresholdPerMinute(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		h.withQuarantine(t, "3", "30s")
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		for m := int64(0); m < 2; m++ {
			r.setNow(now0 + 60*m)
			for i := 0; i < 3; i++ {
				r.send(forged(inSlackA)).wantReject(t, filter.ReasonBadSignature)
			}
		}
		big := slackReq(inSlackA, slackNew, now0+60, strings.Repeat("x", maxBodyA+1))
		for i := 0; i < 5; i++ {
			r.send(big).wantReject(t, filter.ReasonBodyTooLarge)
			r.send(slackReq(99, slackNew, now0+60, slackEvent)).wantReject(t, filter.ReasonUnknownIngress)
		}
		r.send(slackReq(inSlackA, slackNew, now0+60, slackEvent)).wantAccept(t, identity(in[inSlackA]), []byte(slackEvent))
		if n := counter(r, metricQuarantines("slack")); n != 0 {
			t.Errorf("%d quarantines below the threshold", n)
		}
	})
}

func TestQuarantinePolicySettings(t *testing.T) {
	for _, c := range []struct {
		threshold, coolDown string
		want                quarantine.Policy
		ok                  bool
	}{
		{"", "", quarantine.Policy{Threshold: 100, CoolDown: time.Minute}, true},
		{"5", "90s", quarantine.Policy{Threshold: 5, CoolDown: 90 * time.Second}, true},
		{" 7 ", "1s", quarantine.Policy{Threshold: 7, CoolDown: time.Second}, true},
		{"0", "", quarantine.Policy{}, false},
		{"-1", "", quarantine.Policy{}, false},
		{"many", "", quarantine.Policy{}, false},
		{"", "500ms", quarantine.Policy{}, false},
		{"", "60", quarantine.Policy{}, false}, // a duration needs its unit
	} {
		got, err := quarantinePolicy(c.threshold, c.coolDown)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("quarantinePolicy(%q, %q) = %+v, %v; want %+v ok=%v", c.threshold, c.coolDown, got, err, c.want, c.ok)
		}
	}
}

// TestQuarantineBadSettingFailsVMStart: a setting that does not parse fails
// the VM's start (Envoy keeps the previous VM) rather than running with a
// policy nobody chose.
func TestQuarantineBadSettingFailsVMStart(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		h.withQuarantine(t, "0", "1m")
		cfg, _ := fixture(t)
		if h.guest != nil {
			if _, err := parseKeyLines(string(h.vmConfig)); err != nil {
				t.Fatalf("vm configuration lines: %v", err)
			}
		}
		if st := h.startVM(t, marshal(t, cfg)); st {
			t.Fatal("VM started with SWITCHBOARD_QUARANTINE_THRESHOLD=0")
		}
	})
}
