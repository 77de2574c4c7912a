package report

import (
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// renderTable writes one row per entry, sorted by translation unit, depth
// and name. The problems of an incomplete result come first, as in the
// text output. This is the only file that imports tablewriter, whose v0
// and v1 APIs differ; go.mod pins v0.0.5.
func renderTable(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	ew := &errWriter{w: w}
	var b strings.Builder
	writeProblems(&b, r)
	if _, err := io.WriteString(ew, b.String()); err != nil {
		return err
	}

	t := tablewriter.NewWriter(ew)
	t.SetHeader([]string{"Translation unit", "Function", "Source", "Depth", "Reached via", "Removed"})
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetColumnAlignment([]int{
		tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT,
		tablewriter.ALIGN_RIGHT, tablewriter.ALIGN_LEFT, tablewriter.ALIGN_LEFT,
	})
	for _, e := range sortedEntries(r.Entries) {
		removed := ""
		if e.RemovedInDump {
			removed = "yes"
		}
		t.Append([]string{
			clean(tuName(e.TU)),
			displayName(e.Name),
			clean(source(e)),
			strconv.Itoa(e.Depth),
			clean(reachedVia(e)),
			removed,
		})
	}
	t.Render()
	return ew.err
}

// reachedVia says how an entry got the code and from which function, e.g.
// "inlined from css_put".
func reachedVia(e Entry) string {
	how, p := howOf(e), parentOf(e)
	switch {
	case e.Depth == 0 || p == "":
		return how
	case how == "":
		return "from " + p
	}
	return how + " from " + p
}
