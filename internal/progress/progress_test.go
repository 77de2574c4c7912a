package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestBarDraws: a bar drawn on a writer shows its description and the
// count of pieces done, and is cleared when done.
func TestBarDraws(t *testing.T) {
	var w bytes.Buffer
	b := newTo(&w, 3, "rebuilding 1 unit")
	b.Add(1)
	mid := w.String()
	if !strings.Contains(mid, "rebuilding 1 unit") || !strings.Contains(mid, "(1/3)") {
		t.Errorf("bar after 1 of 3: %q, want the description and 1/3", mid)
	}
	b.Add(2)
	b.Done()
	b.Add(1) // after Done: nothing
	b.Done()
	if !strings.HasSuffix(w.String(), "\r") {
		t.Errorf("bar not cleared when done: %q", w.String())
	}
}

// TestNotATerminal: stderr of a test is a pipe or a file, so New gives a
// bar that writes nothing; and SetOff(true) turns bars off even on a
// terminal.
func TestNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	b := New(2, "x")
	b.Add(2)
	b.Done()
	os.Stderr = old
	w.Close()
	var got bytes.Buffer
	got.ReadFrom(r)
	if got.Len() != 0 {
		t.Errorf("bar on a pipe wrote %q", got.String())
	}
	if _, ok := b.(none); !ok {
		t.Errorf("New on a pipe: %T, want the no-op bar", b)
	}
	SetOff(true)
	defer SetOff(false)
	if _, ok := New(2, "x").(none); !ok {
		t.Error("New after SetOff(true) is not the no-op bar")
	}
}
