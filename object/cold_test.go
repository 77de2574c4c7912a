package object

import "testing"

func TestColdParent(t *testing.T) {
	tests := []struct {
		name, parent string
		ok           bool
	}{
		{"foo.cold", "foo", true},
		{"foo.cold.1", "foo", true},
		{"foo.cold.12", "foo", true},
		{"foo.part.0.cold", "foo.part.0", true},
		{"foo.constprop.0.isra.0.cold", "foo.constprop.0.isra.0", true},
		{"foo", "", false},
		{".cold", "", false},
		{"foo.coldish", "", false},
		{"foo.cold.x", "", false},
		{"foo.cold.", "", false},
		{"cold_start", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := coldParent(tc.name)
			if p != tc.parent || ok != tc.ok {
				t.Errorf("coldParent(%q) = %q, %v; want %q, %v", tc.name, p, ok, tc.parent, tc.ok)
			}
		})
	}
}
