package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints the plan, one row a line, then the counts. Rows carry no
// secret (only keys, ids, source locations and reasons).
func WriteText(w io.Writer, pl *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKIND\tKEY\tWHERE\tDETAIL")
	for _, r := range pl.Rows {
		action := string(r.Action)
		if r.Reason != "" {
			action += " (" + string(r.Reason) + ")"
		}
		detail := r.Detail
		if r.ObjectID != "" && r.Action != Conflict {
			detail = r.ObjectID + ": " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", action, r.Kind, r.Key, r.Where, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := pl.Counts()
	_, err := fmt.Fprintf(w, "summary: %d create, %d unchanged, %d conflict, %d unsupported\n",
		c[Create], c[Unchanged], c[Conflict], c[Unsupported])
	return err
}

// WriteJSON prints the plan as one JSON object.
func WriteJSON(w io.Writer, pl *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Plan
		Counts map[Action]int `json:"counts"`
	}{pl, pl.Counts()})
}
