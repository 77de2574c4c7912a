package livepatch

import (
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/report"
)

func TestCIdent(t *testing.T) {
	for in, want := range map[string]string{
		"foo.constprop.0":                   "foo_constprop_0",
		"leafy.constprop.0.isra.0":          "leafy_constprop_0_isra_0",
		"_ZGVbN4v_sq":                       "_ZGVbN4v_sq",
		"0x":                                "_0x",
		"":                                  "_",
		"a$b":                               "a_b",
		"percpu_ref_put_many.constprop.0.x": "percpu_ref_put_many_constprop_0_x",
	} {
		if got := cIdent(in); got != want {
			t.Errorf("cIdent(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cString("a\"b\\c??/\n"); got != `"a\"b\\c\?\?/\012"` {
		t.Errorf("cString = %s", got)
	}
	if got := cComment("x */ y /* z"); strings.Contains(got, "*/") || strings.Contains(got, "/*") {
		t.Errorf("cComment left a comment delimiter: %q", got)
	}
}

// TestNewFuncNames: one name in several units gets the unit appended, so
// every new_func is a distinct identifier.
func TestNewFuncNames(t *testing.T) {
	mk := func(name, tu string) report.Target { return report.Target{Name: name, TU: tu} }
	got := newFuncNames(map[string][]report.Target{
		"vmlinux": {mk("scale", "mm/a.o"), mk("scale", "kernel/b.o"), mk("foo.isra.0", "mm/a.o")},
		"nfsd":    {mk("scale", "fs/nfsd/c.o")},
	})
	want := map[[2]string]string{
		{"scale", "mm/a.o"}:      "livepatch_scale__mm_a",
		{"scale", "kernel/b.o"}:  "livepatch_scale__kernel_b",
		{"scale", "fs/nfsd/c.o"}: "livepatch_scale__fs_nfsd_c",
		{"foo.isra.0", "mm/a.o"}: "livepatch_foo_isra_0",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%v: %q, want %q", k, got[k], w)
		}
	}
}
