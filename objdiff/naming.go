package objdiff

import (
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/object"
)

// Symbol tokens.
//
// The targets an instruction or a table entry leads to name the
// functions and data symbols of their own object by token, not by name:
// "\x00f12\x00" is Funcs[12], "\x00d40\x00" symbol-table entry 40. A
// token is resolved only when the comparison knows which symbols of the
// two objects correspond (see correlate.go): a call to foo.constprop.5 in
// the original and to foo.constprop.6 in the patched object then compare
// equal when the two clones were correlated, and differ when they were
// not. ELF names end at a NUL byte and every string the targets quote is
// escaped, so a NUL in a target always starts a token.

const tokenMark = '\x00'

// funcToken is the token of function fn of o.
func (o *Object) funcToken(fn *object.Func) string {
	i := o.funcIndex(fn)
	if i < 0 {
		return funcLabel(fn)
	}
	return "\x00f" + strconv.Itoa(i) + "\x00"
}

// dataToken is the token of data symbol i of o.
func dataToken(i int) string {
	return "\x00d" + strconv.Itoa(i) + "\x00"
}

// hasToken says s holds a token.
func hasToken(s string) bool { return strings.IndexByte(s, tokenMark) >= 0 }

// eachToken calls fn for every token of s with its kind ('f' or 'd') and
// index; it stops when fn returns false.
func eachToken(s string, fn func(kind byte, idx int) bool) {
	for {
		i := strings.IndexByte(s, tokenMark)
		if i < 0 || i+2 >= len(s) {
			return
		}
		j := strings.IndexByte(s[i+1:], tokenMark)
		if j < 0 {
			return
		}
		tok := s[i+1 : i+1+j]
		s = s[i+2+j:]
		if len(tok) < 2 {
			continue
		}
		n, err := strconv.Atoi(tok[1:])
		if err != nil || n < 0 {
			continue
		}
		if !fn(tok[0], n) {
			return
		}
	}
}

// resolveTokens replaces every token of s with name(kind, idx).
func resolveTokens(s string, name func(kind byte, idx int) string) string {
	if !hasToken(s) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, tokenMark)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i+1:], tokenMark)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		tok := s[i+1 : i+1+j]
		s = s[i+2+j:]
		n, err := strconv.Atoi(tok[min(1, len(tok)):])
		if len(tok) < 2 || err != nil || n < 0 {
			b.WriteString("?")
			continue
		}
		b.WriteString(name(tok[0], n))
	}
}

// displayName is what a token of o reads as for people: the function's
// label (name, and #old_sympos when not unique) or the data symbol's
// name.
func (o *Object) displayName(kind byte, idx int) string {
	switch kind {
	case 'f':
		if idx < len(o.File.Funcs) {
			return funcLabel(&o.File.Funcs[idx])
		}
	case 'd':
		if idx < len(o.syms) {
			return o.syms[idx].Name
		}
	}
	return "?"
}

// display resolves the tokens of s to o's own names.
func (o *Object) display(s string) string {
	return resolveTokens(s, o.displayName)
}

// namer resolves the tokens of one side of a comparison to names that
// are equal on both sides exactly when the symbols correspond: a
// correlated pair takes the original symbol's index ("\x01F12"), a
// symbol without partner a name of its side alone ("\x01o12" in the
// original, "\x01p7" in the patched object).
type namer struct {
	o *Object
	// fn maps Funcs indexes to their canonical names; data maps symbol
	// indexes. A missing entry is a symbol without partner.
	fn   map[int]string
	data map[int]string
	side byte // 'o' or 'p'
}

func (n *namer) name(kind byte, idx int) string {
	var m map[int]string
	if kind == 'f' {
		m = n.fn
	} else {
		m = n.data
	}
	if s, ok := m[idx]; ok {
		return s
	}
	return "\x01" + string(n.side) + string(kind) + strconv.Itoa(idx)
}

// resolve resolves the tokens of s canonically.
func (n *namer) resolve(s string) string {
	return resolveTokens(s, n.name)
}

// canonFunc and canonData are the canonical names of a correlated pair,
// by the original symbol's index.
func canonFunc(origIdx int) string { return "\x01F" + strconv.Itoa(origIdx) }
func canonData(origIdx int) string { return "\x01D" + strconv.Itoa(origIdx) }
