package driver

import (
	"runtime/debug"
	"strings"

	"github.com/klp-audit/klp-audit/report"
)

// Version returns the module version and VCS revision the binary was
// built from.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value
		case "vcs.modified":
			if st.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	// Go stamps pseudo-versions that already name the revision.
	if rev != "" && !strings.Contains(v, rev) {
		v += " (" + rev + modified + ")"
	}
	return v
}

// Tool identifies this binary in every verb's report.
func Tool() report.Tool {
	return report.Tool{Name: "klp-audit", Version: Version(), Revision: revision()}
}

// revision returns the VCS revision alone, for reports.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" {
			return st.Value
		}
	}
	return ""
}
