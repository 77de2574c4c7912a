package patch

import "fmt"

// Apply returns src (the original file's lines, index 0 is line 1) with
// f's hunks applied, as patch(1) would write the fixed file. A hunk that
// does not apply is an error naming the file and the first mismatch.
func Apply(src []string, f File) ([]string, error) {
	out := make([]string, 0, len(src))
	next := 1 // the next line of src to copy
	for i := range f.Hunks {
		h := &f.Hunks[i]
		if m := h.Verify(src); m != nil {
			return nil, fmt.Errorf("%s:%d: the hunk expects %q, the file has %q", f.OldName, m.Line, m.Want, m.Got)
		}
		start := h.OldStart
		if h.OldLines == 0 {
			start++ // an insertion after line OldStart
		}
		if start < next {
			return nil, fmt.Errorf("%s:%d: hunks overlap", f.OldName, h.OldStart)
		}
		out = append(out, src[next-1:start-1]...)
		for _, l := range h.Lines {
			if l.Op != Delete {
				out = append(out, l.Text)
			}
		}
		next = start + h.OldLines
	}
	if next-1 <= len(src) {
		out = append(out, src[next-1:]...)
	}
	return out, nil
}
