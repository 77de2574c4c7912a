package patch

import (
	"regexp"
	"strings"
)

// Extent is a function's source extent: from the line its definition
// starts (the line naming it) to its closing brace.
type Extent struct {
	Name        string
	First, Last int
}

// Contains reports whether line is within e.
func (e Extent) Contains(line int) bool { return line >= e.First && line <= e.Last }

var defNameRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// CFunctions finds the function definitions of a C source (lines, index 0
// being line 1) in the kernel's layout: a line holding NAME( at column 0
// (or after the return type), the body's opening brace at column 0 on a
// later line (or at the end of the signature's last line), and the closing
// brace at column 0; or a whole definition on one line ("static inline
// int f(int x) { return x; }"). It is the fallback for files no DWARF
// covers; macros that define functions are not seen.
func CFunctions(src []string) []Extent {
	var out []Extent
	for i := 0; i < len(src); i++ {
		line := src[i]
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '{' || line[0] == '}' ||
			strings.HasPrefix(line, "/*") || strings.HasPrefix(line, "//") || strings.HasPrefix(line, " *") {
			continue
		}
		m := defNameRE.FindStringSubmatch(line)
		if m == nil || isKeyword(m[1]) {
			continue
		}
		// A whole definition on one line, as headers have them.
		in := false
		if code := strings.TrimSpace(stripCode(line, &in)); !in && balanced(code) {
			if om := oneLineFuncRE.FindStringSubmatch(code); om != nil && !isKeyword(om[1]) {
				out = append(out, Extent{Name: om[1], First: i + 1, Last: i + 1})
				continue
			}
		}
		// The signature runs until "{" (definition) or ";" (declaration).
		open := -1
		for j := i; j < len(src) && j < i+20; j++ {
			t := strings.TrimRight(src[j], " \t")
			if j > i && strings.HasPrefix(src[j], "{") {
				open = j
				break
			}
			if strings.HasSuffix(t, ";") || (j > i && t != "" && t[0] != ' ' && t[0] != '\t' && t[0] != '{') {
				break
			}
			if strings.HasSuffix(t, "{") && strings.Contains(t, ")") {
				open = j
				break
			}
		}
		if open < 0 {
			continue
		}
		closeAt := -1
		for j := open + 1; j < len(src); j++ {
			if strings.HasPrefix(src[j], "}") {
				closeAt = j
				break
			}
		}
		if closeAt < 0 {
			break
		}
		out = append(out, Extent{Name: m[1], First: i + 1, Last: closeAt + 1})
		i = closeAt
	}
	return out
}

func isKeyword(s string) bool {
	switch s {
	case "if", "for", "while", "switch", "return", "sizeof", "typeof", "__attribute__", "defined":
		return true
	}
	return false
}
