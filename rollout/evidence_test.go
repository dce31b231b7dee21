package rollout

import (
	"strings"
	"testing"
	"time"
)

// matrixWith is a report of every case observed as expected, with the
// named cases observed as obs instead.
func matrixWith(obs string, names ...string) *MatrixReport {
	r := &MatrixReport{Provider: "slack", EdgeConfigVersion: "v1", BinaryVersion: "test", StartedAt: time.Unix(0, 0)}
	for _, c := range MatrixCases {
		o := c.Expected
		for _, n := range names {
			if n == c.Name {
				o = obs
			}
		}
		r.Cases = append(r.Cases, MatrixCase{Name: c.Name, Expected: c.Expected, Observed: o})
	}
	return r
}

// TestCheckMatrixPlatformCases: the platform-secret cases may be not
// applicable only while the provider has no platform profile; with one they
// are required, and the problem says what to pass.
func TestCheckMatrixPlatformCases(t *testing.T) {
	plat := MatrixRequirements{PlatformProfiles: []string{"prof_p1"}}
	cases := []struct {
		name   string
		report *MatrixReport
		req    MatrixRequirements
		green  bool
		want   []string // substrings of the problems, in order
	}{
		{"all observed, no platform profile", matrixWith(""), MatrixRequirements{}, true, nil},
		{"all observed, platform profile", matrixWith(""), plat, true, nil},
		{"platform cases n/a, no platform profile", matrixWith(OutcomeNotApplicable, PlatformCases...), MatrixRequirements{}, true, nil},
		{"platform cases n/a, platform profile", matrixWith(OutcomeNotApplicable, PlatformCases...), plat, false, []string{
			"case byoa_secret_on_platform not run: slack has the platform profile prof_p1 (run the matrix with --platform-profile prof_p1 --platform-secret-file FILE)",
			"case platform_secret_on_byoa not run: slack has the platform profile prof_p1",
		}},
		{"one platform case n/a, platform profile", matrixWith(OutcomeNotApplicable, "byoa_secret_on_platform"), plat, false, []string{"case byoa_secret_on_platform not run"}},
		{"platform case accepted, no platform profile", matrixWith(OutcomeAccepted, "platform_secret_on_byoa"), MatrixRequirements{}, false, []string{"case platform_secret_on_byoa: expected refused, observed accepted"}},
		{"other optional case n/a, platform profile", matrixWith(OutcomeNotApplicable, "stale_timestamp"), plat, true, nil},
		{"required case n/a", matrixWith(OutcomeNotApplicable, "cross_tenant"), MatrixRequirements{}, false, []string{"case cross_tenant: expected refused, observed not_applicable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			green, why := CheckMatrix(c.report, c.req)
			if green != c.green || len(why) != len(c.want) {
				t.Fatalf("green %v, problems %q; want %v, %d problems", green, why, c.green, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(why[i], w) {
					t.Errorf("problem %d %q lacks %q", i, why[i], w)
				}
			}
			for _, mc := range c.report.Cases {
				if isPlatformCase(mc.Name) && mc.Observed == OutcomeNotApplicable && mc.Pass == (len(c.req.PlatformProfiles) > 0) {
					t.Errorf("case %s pass %v with requirements %+v", mc.Name, mc.Pass, c.req)
				}
			}
		})
	}
}
