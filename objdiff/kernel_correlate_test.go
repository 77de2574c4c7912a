package objdiff

import (
	"strings"
	"testing"
)

// TestKernelStaticsRenumbered: a WARN_ONCE added at the end of
// mm/page_alloc.c (gcc numbers function-local statics from the end of
// the file) renumbers the __already_done and dynamic-debug descriptor
// statics of the functions above; lines inserted at the top shift every
// __LINE__. Only the new function and its new static may differ.
func TestKernelStaticsRenumbered(t *testing.T) {
	d := kernelDiff(t, "mm/page_alloc.o", func(b []byte) []byte {
		s := string(b)
		i := strings.Index(s, "\n#include")
		if i < 0 {
			t.Fatal("mm/page_alloc.c has no #include")
		}
		s = s[:i] + "\n/* three */\n/* inserted */\n/* lines */" + s[i:]
		return []byte(s + "\nvoid klp_audit_warn_once(int x)\n{\n\tWARN_ONCE(x > 1, \"klp-audit %d\", x);\n}\n")
	})
	var data []string
	for _, dc := range d.DataChanges {
		data = append(data, dc.Name+" "+string(dc.Status)+" "+dc.Reason)
	}
	t.Logf("%d renames, %d ambiguities, data changes %q", len(d.Renames), len(d.Ambiguities), data)
	if len(d.Changed) > 0 || len(d.Removed) > 0 || len(d.Ambiguities) > 0 {
		t.Errorf("want no changed or removed function and no ambiguity")
	}
	if len(d.Added) != 1 || d.Added[0].Name != "klp_audit_warn_once" {
		t.Errorf("added %+v, want klp_audit_warn_once", d.Added)
	}
	if len(d.DataChanges) != 1 || d.DataChanges[0].Status != DataAdded ||
		len(d.DataChanges[0].ReferencedBy) != 1 || d.DataChanges[0].ReferencedBy[0] != "klp_audit_warn_once" {
		t.Errorf("data changes %q, want the new __already_done of klp_audit_warn_once", data)
	}
}
