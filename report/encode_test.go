package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// stdIndent is what json.Encoder writes with SetIndent("", "  ") and
// HTML escaping off: what Encode wrote before indentJSON.
func stdIndent(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestIndentJSON: Encode's JSON is json.Encoder's indented JSON byte for
// byte: on values with empty and nested objects and arrays, and strings
// holding quotes, backslashes, braces, commas, colons, control bytes,
// HTML and non-ASCII text; and on every JSON document under the
// repository's testdata directories, decoded and encoded again.
func TestIndentJSON(t *testing.T) {
	values := []any{
		nil, 1, "x", []int{}, map[string]any{}, []any{[]any{}, map[string]any{}, []any{map[string]any{"a": []int{}}}},
		map[string]any{"k\"ey": `a "quoted" \ back\\slash {[,:]} <tag> & é ✓ ` + "\x01\n\t", "e": []string{"", `\`, `"`, `\"`}},
		Result{Entries: []Entry{{Name: "f", Chain: []Step{{From: "a", To: "b"}}}}},
	}
	var docs []string
	for _, g := range []string{"../cmd/klp-audit/testdata/golden/*.json", "../cmd/klp-audit/testdata/golden/*/*.json", "testdata/golden/*.json", "testdata/*.json"} {
		m, _ := filepath.Glob(g)
		docs = append(docs, m...)
	}
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			values = append(values, v)
		}
	}
	if len(values) < 10 {
		t.Fatalf("only %d values", len(values))
	}
	defer func(n int) { indentFlush = n }(indentFlush)
	for i, v := range values {
		// Written in pieces of every size up to the whole.
		indentFlush = []int{1, 7, 64, 4096, 64 << 10}[i%5]
		var got bytes.Buffer
		if err := Encode(&got, v, JSON); err != nil {
			t.Fatal(err)
		}
		if want := stdIndent(t, v); !bytes.Equal(got.Bytes(), want) {
			t.Errorf("value %d:\n%s\njson.Encoder:\n%s", i, got.Bytes(), want)
		}
	}
}

// indentJSON is indentJSONTo without flushing: the whole document.
func indentJSON(dst, src []byte) []byte {
	dst, _ = indentJSONTo(dst, src, nil)
	return dst
}

// FuzzIndentJSON: for any valid JSON, compacted as encoding/json writes
// it, indentJSON indents it as json.Indent does.
func FuzzIndentJSON(f *testing.F) {
	f.Add(`{"a":[1,2,{}],"b":"x\"y\\","c":[]}`)
	f.Add(`[[],[[]],{"":{"":[]}}]`)
	f.Add(`"\u00e9\n"`)
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(s)); err != nil {
			t.Fatal(err)
		}
		compact.WriteByte('\n')
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact.Bytes()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q:\n%s\njson.Indent:\n%s", compact.Bytes(), got, want.Bytes())
		}
		// Written in pieces (indentFlush is 64 KiB, the fuzzer's
		// inputs smaller: flushed at every byte).
		defer func(n int) { indentFlush = n }(indentFlush)
		indentFlush = 1
		var got bytes.Buffer
		if err := writeIndented(&got, compact.Bytes()); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%q written in pieces: %v\n%s\njson.Indent:\n%s", compact.Bytes(), err, got.Bytes(), want.Bytes())
		}
	})
}
