package safeio_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// FuzzLineReader: no input panics; no line returned is longer than the
// limit or holds a newline; errors name file:line with a line number that
// grows; reading ends with io.EOF, after at most one result per newline
// plus one.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"", "a\n", "a\r\nb", "\n\n\n", "x\r", "\r\n\r\n", "0123456789abcdefXYZ\nshort\n"} {
		f.Add([]byte(s), 16)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLen int) {
		maxLen = maxLen%64 + 16
		if maxLen < 16 {
			maxLen += 64
		}
		r := safeio.NewLineReader(bytes.NewReader(data), "in", maxLen)
		limit := bytes.Count(data, []byte("\n")) + 1
		last := 0
		for calls := 0; ; calls++ {
			if calls > limit {
				t.Fatalf("more than %d results", limit)
			}
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var le *safeio.LineError
				if !errors.As(err, &le) || le.File != "in" || le.Line <= last || !errors.Is(err, safeio.ErrLineTooLong) {
					t.Fatalf("error %v after line %d", err, last)
				}
				last = le.Line
				continue
			}
			if len(l) > maxLen || bytes.IndexByte(l, '\n') >= 0 || r.Line() <= last {
				t.Fatalf("line %d %q (limit %d) after line %d", r.Line(), l, maxLen, last)
			}
			last = r.Line()
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next after io.EOF: %v", err)
		}
	})
}
