package patch

import (
	"regexp"
	"strings"
)

// Texts are both sides of one file's diff: the original lines (the
// build's source) and the fixed ones (the original with the hunks
// applied), each with whether every line starts inside a /* */ comment.
// Hunk lines are classified in their side's context: a line continuing a
// comment, a macro or a statement begun above it is read as part of that.
type Texts struct {
	Old, New     []string
	oldIn, newIn []bool
}

// NewTexts returns the texts of f's two sides from src, the original
// file's lines (index 0 is line 1). A hunk that does not apply is an
// error (see Apply).
func NewTexts(src []string, f File) (*Texts, error) {
	fixed, err := Apply(src, f)
	if err != nil {
		return nil, err
	}
	return TextsOf(src, fixed), nil
}

// TextsOf returns the two sides of a file a fix changes: src, the
// original, and fixed, the file with the fix applied (as ApplyAt writes it
// where the hunks were located, fuzz included).
func TextsOf(src, fixed []string) *Texts {
	return &Texts{Old: src, New: fixed, oldIn: CommentState(src), newIn: CommentState(fixed)}
}

// CommentState returns, for each of lines (index 0 is line 1), whether
// it starts inside a /* */ comment. String and character literals are
// skipped, so "/*" in a string opens nothing.
func CommentState(lines []string) []bool {
	out := make([]bool, len(lines))
	in := false
	for i, l := range lines {
		out[i] = in
		stripCode(l, &in)
	}
	return out
}

// side returns the lines and comment states of l's side, and l's index
// in them.
func (t *Texts) side(l Line) (lines []string, in []bool, i int) {
	if l.Op == Add {
		return t.New, t.newIn, l.NewLine - 1
	}
	return t.Old, t.oldIn, l.OldLine - 1
}

// Code returns l's text without its comments, read in its side's
// context: a line inside a comment opened above it is empty.
func (t *Texts) Code(l Line) string {
	lines, in, i := t.side(l)
	if i < 0 || i >= len(lines) {
		c := false
		return stripCode(l.Text, &c)
	}
	c := in[i]
	return stripCode(lines[i], &c)
}

// maxJoin bounds how far back a line's construct is looked for.
const maxJoin = 64

// construct returns the code of the top-level construct l belongs to:
// l joined with the lines above it that it continues (a statement or an
// initialiser spread over several lines), and whether l is part of a
// preprocessor directive (a #define continued with backslashes).
func (t *Texts) construct(l Line) (code string, macro bool) {
	lines, in, i := t.side(l)
	if i < 0 || i >= len(lines) {
		c := false
		code = stripCode(l.Text, &c)
		return code, macroRE.MatchString(code)
	}
	codeAt := func(j int) string {
		c := in[j]
		return stripCode(lines[j], &c)
	}
	// inDirective: line j is a directive line, or continued from one
	// by the backslashes ending the lines above it.
	inDirective := func(j int) bool {
		for k := j; k >= 0 && k > j-maxJoin; k-- {
			c := codeAt(k)
			if k < j && !strings.HasSuffix(strings.TrimRight(c, " \t"), "\\") {
				return false
			}
			if macroRE.MatchString(c) {
				return true
			}
		}
		return false
	}
	self := codeAt(i)
	if inDirective(i) {
		return self, true
	}
	parts := []string{strings.TrimSpace(self)}
	for j := i - 1; j >= 0 && j > i-maxJoin; j-- {
		c := strings.TrimSpace(codeAt(j))
		if c == "" && strings.TrimSpace(lines[j]) != "" {
			continue // a comment line within the statement
		}
		if c == "" || inDirective(j) {
			break
		}
		switch c[len(c)-1] {
		case ';', '{', '}', ',', ':':
			return strings.Join(parts, " "), false
		}
		parts = append([]string{c}, parts...)
	}
	return strings.Join(parts, " "), false
}

// Classify says what changed lines that lie in no function body change,
// each read in its side's context (see Classify for the kinds): a line
// continuing a macro is a macro line, one continuing a global
// initialiser (a line starting with "*" or an operator) is data, and a
// line inside a comment is a comment whatever it holds.
func (t *Texts) Classify(changed []Line) string {
	var data, macro, other bool
	for _, l := range changed {
		if strings.TrimSpace(t.Code(l)) == "" {
			continue
		}
		code, isMacro := t.construct(l)
		switch {
		case isMacro:
			macro = true
		case isData(code):
			data = true
		default:
			other = true
		}
	}
	return kindOf(data, macro, other)
}

// ChangesLayout reports whether a line of changed (outside function
// bodies) declares a type's layout: a struct, union or enum body, a
// member, an enumerator. Objects of the type that already exist keep the
// old layout, which no rebuild of functions shows; a global initialiser
// or a new variable changes data a rebuild compares.
func (t *Texts) ChangesLayout(changed []Line) bool {
	for _, l := range changed {
		if strings.TrimSpace(t.Code(l)) == "" {
			continue
		}
		code, isMacro := t.construct(l)
		if !isMacro && (typeBodyRE.MatchString(code) || closeTypeRE.MatchString(code) || memberRE.MatchString(code) || enumeratorRE.MatchString(code)) {
			return true
		}
	}
	return false
}

// IsStaticLocal reports whether l, a line inside a function body,
// declares a static local variable (read in its side's context, and
// anywhere on the line: "{ static int n; n++; }" declares one).
func (t *Texts) IsStaticLocal(l Line) bool {
	code, _ := t.construct(l)
	for _, s := range strings.FieldsFunc(code, func(r rune) bool { return r == '{' || r == '}' || r == ';' }) {
		if staticDeclRE.MatchString(strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// staticDeclRE is one declaration (no ";") of a static variable: no
// parenthesis before its initialiser, so no function prototype.
var staticDeclRE = regexp.MustCompile(`^static\s+[^()=]*[A-Za-z0-9_\]]\s*(=.*)?$`)

var oneLineFuncRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_ \t*]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{}]*\)[^;{}()]*\{.*\}\s*$`)

// OneLineFunction returns the name of the function whose whole
// definition is l ("static inline int f(int x) { return x; }", common in
// headers), or "".
func (t *Texts) OneLineFunction(l Line) string {
	code := strings.TrimSpace(t.Code(l))
	m := oneLineFuncRE.FindStringSubmatch(code)
	if m == nil || isKeyword(m[1]) || !balanced(code) {
		return ""
	}
	return m[1]
}

// balanced reports whether the braces of code balance and never close
// more than they opened.
func balanced(code string) bool {
	d := 0
	for _, c := range code {
		switch c {
		case '{':
			d++
		case '}':
			d--
			if d < 0 {
				return false
			}
		}
	}
	return d == 0
}

// stripCode removes the comments of one line, keeping string and
// character literals (a "/*" in a string opens no comment); inComment
// carries a /* */ comment across lines.
func stripCode(s string, inComment *bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if *inComment {
			if strings.HasPrefix(s[i:], "*/") {
				*inComment = false
				i++
				b.WriteByte(' ')
			}
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			*inComment = true
			i++
			continue
		case strings.HasPrefix(s[i:], "//"):
			return b.String()
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			b.WriteByte(q)
			for i++; i < len(s) && s[i] != q; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					b.WriteByte(s[i])
					i++
				}
				b.WriteByte(s[i])
			}
			if i < len(s) {
				b.WriteByte(q)
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
