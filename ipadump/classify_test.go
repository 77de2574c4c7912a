package ipadump

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The dump names' forms as regular expressions: what classify and
// IsDumpName read by hand.
var (
	dumpRE   = regexp.MustCompile(`^(.+)\.[0-9]+i\.ipa-clones$`)
	wpaRE    = regexp.MustCompile(`^(.+)\.wpa$`)
	ltransRE = regexp.MustCompile(`^(.+)\.ltrans[0-9]+\.ltrans$`)
)

// classifyRE is classify by the regular expressions.
func classifyRE(p string) (DumpKind, string, bool) {
	m := dumpRE.FindStringSubmatch(p)
	if m == nil {
		return 0, "", false
	}
	stem := m[1]
	if l := ltransRE.FindStringSubmatch(stem); l != nil {
		return LTransDump, l[1], true
	}
	if w := wpaRE.FindStringSubmatch(stem); w != nil {
		return WPADump, w[1], true
	}
	if ext := filepath.Ext(stem); ext != "" && !strings.Contains(ext, "/") {
		stem = strings.TrimSuffix(stem, ext)
	}
	return UnitDump, stem + ".o", true
}

var classifyCases = []string{
	"mm/oom_kill.c.000i.ipa-clones", "oom_kill.c.000i.ipa-clones", "a.1.2i.ipa-clones", "x.12i.ipa-clones",
	".0i.ipa-clones", "a.i.ipa-clones", "a0i.ipa-clones", "a.c.0001i.ipa-clones\n", "a\nb.c.000i.ipa-clones",
	"vmlinux.wpa.000i.ipa-clones", ".wpa.000i.ipa-clones", "x.wpa.wpa.000i.ipa-clones",
	"prog.ltrans0.ltrans.000i.ipa-clones", "prog.ltrans12.ltrans.000i.ipa-clones", ".ltrans0.ltrans.000i.ipa-clones",
	"prog.ltrans.ltrans.000i.ipa-clones", "prog.ltransX0.ltrans.000i.ipa-clones", "a.ltrans0.ltrans.ltrans1.ltrans.001i.ipa-clones",
	"dir.d/x.000i.ipa-clones", "x.S.000i.ipa-clones", "mm/oom_kill.c.000i.ipa-clones.orig", "i.ipa-clones", "",
	"a.c.000i.ipa-clones/b", "a.\xff.000i.ipa-clones", "é.c.1i.ipa-clones",
}

// TestClassify: the names are read as the regular expressions read them.
func TestClassify(t *testing.T) {
	for _, p := range classifyCases {
		checkClassify(t, p)
	}
}

func checkClassify(t *testing.T, p string) {
	t.Helper()
	k, o, ok := classify(p)
	wk, wo, wok := classifyRE(p)
	if k != wk || o != wo || ok != wok {
		t.Errorf("classify(%q) = %v, %q, %v; the regular expressions say %v, %q, %v", p, k, o, ok, wk, wo, wok)
	}
	if IsDumpName(p) != dumpRE.MatchString(p) {
		t.Errorf("IsDumpName(%q) = %v", p, IsDumpName(p))
	}
}

// FuzzClassify: any name is read as the regular expressions read it.
func FuzzClassify(f *testing.F) {
	for _, p := range classifyCases {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) { checkClassify(t, p) })
}
