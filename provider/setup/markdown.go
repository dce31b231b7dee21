package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Markdown renders a packet for people: the same content as its JSON.
func Markdown(p Packet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", p.Title)
	fmt.Fprintf(&b, "Provider `%s`, %s `%s`.\n\n", p.Provider, p.Kind, p.ID)
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "> **Note:** %s\n\n", w)
	}
	if p.WebhookURL != "" {
		fmt.Fprintf(&b, "Webhook URL: `%s`\n\n", p.WebhookURL)
	}
	b.WriteString("## Steps\n\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "### %d. %s\n\n", i+1, s.Title)
		if s.Text != "" {
			fmt.Fprintf(&b, "%s\n\n", s.Text)
		}
		if s.Link != "" {
			fmt.Fprintf(&b, "Open: <%s>\n\n", s.Link)
		}
		if len(s.Fields) > 0 {
			b.WriteString("| Field | Value |\n|---|---|\n")
			for _, f := range s.Fields {
				fmt.Fprintf(&b, "| %s | `%s` |\n", cell(f.Name), cell(f.Value))
			}
			b.WriteString("\n")
		}
		if s.Code != "" {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", s.Code)
		}
	}
	if len(p.PasteBack) > 0 {
		b.WriteString("## Values to paste back\n\nNever send these in chat or e-mail; store them with the route shown.\n\n")
		b.WriteString("| Value | Where the provider shows it | Store with |\n|---|---|---|\n")
		for _, v := range p.PasteBack {
			fmt.Fprintf(&b, "| %s (`%s`) | %s | `%s` |\n", cell(v.Label), v.Purpose, cell(v.Where), cell(v.Route))
		}
		b.WriteString("\n")
	}
	if len(p.Data) > 0 {
		b.WriteString("## Machine-readable values\n\n")
		keys := make([]string, 0, len(p.Data))
		for k := range p.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var js bytes.Buffer
			enc := json.NewEncoder(&js)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			_ = enc.Encode(p.Data[k])
			fmt.Fprintf(&b, "`%s`:\n\n```json\n%s```\n\n", k, js.String())
		}
	}
	if p.Registration != "" {
		fmt.Fprintf(&b, "## Registration at the provider\n\n%s\n\n", p.Registration)
	}
	for _, c := range p.Checklists {
		fmt.Fprintf(&b, "## %s\n\n", c.Name)
		for _, it := range c.Items {
			fmt.Fprintf(&b, "- [ ] %s\n", it)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Handoff record\n\n")
	if p.Handoff == nil {
		b.WriteString("Not recorded yet.\n")
		return b.String()
	}
	h := p.Handoff
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v)) }
	row("Owner account", h.OwnerAccount)
	row("URLs configured", strings.Join(h.URLsConfigured, ", "))
	row("Scopes approved", strings.Join(h.ScopesApproved, ", "))
	if h.CanaryValidatedAt != nil {
		row("Canary validated", h.CanaryValidatedAt.UTC().Format(time.RFC3339)+" in "+h.CanaryChannel)
	} else {
		row("Canary validated", "")
	}
	row("Rotation owner", h.RotationOwner)
	row("Next rotation", h.NextRotation)
	if h.UpdatedAt != nil {
		row("Recorded", h.UpdatedAt.UTC().Format(time.RFC3339)+" by "+h.UpdatedBy)
	}
	return b.String()
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
