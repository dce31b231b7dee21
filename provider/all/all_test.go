package all

import (
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
)

func TestAllRegistered(t *testing.T) {
	want := []string{"discord", "github", "instagram", "line", "messenger", "slack", "standardwebhooks", "telegram", "twilio", "whatsapp"}
	if got := provider.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("registered providers = %v, want %v", got, want)
	}
}
