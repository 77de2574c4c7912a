package ipadump

import (
	"fmt"
	"testing"
)

func TestCloneName(t *testing.T) {
	for _, tt := range []struct {
		name, base, kinds string
		last              bool
	}{
		{"big", "big", "[]", false},
		{"big.constprop.0", "big", "[constprop]", true},
		{"usesx.constprop.0.isra.0", "usesx", "[constprop isra]", true},
		{"splitme.part.0.cold", "splitme", "[part]", false},
		{"sq.simdclone.3", "sq", "[simdclone]", true},
		{"foo.cold", "foo.cold", "[]", false},
		{"foo.constprop", "foo.constprop", "[]", false},
	} {
		base, kinds, last := CloneName(tt.name)
		if base != tt.base || fmt.Sprint(kinds) != tt.kinds || last != tt.last {
			t.Errorf("CloneName(%q) = %q, %v, %v; want %q, %s, %v", tt.name, base, kinds, last, tt.base, tt.kinds, tt.last)
		}
	}
}
