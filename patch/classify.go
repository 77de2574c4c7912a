package patch

import (
	"regexp"
	"strings"
)

// Kinds of hunk that touch no function body, as Classify returns them.
const (
	KindComment = "comment" // comments or blank lines only
	KindData    = "data"    // struct/union/enum layout, a global initialiser, a static local
	KindMacro   = "macro"   // preprocessor lines (#define, #include, ...)
	KindUnknown = "unknown" // none of these: the check cannot tell
)

var (
	typeBodyRE   = regexp.MustCompile(`^\s*(typedef\s+)?(struct|union|enum)\b[^;()]*\{?\s*$`)
	closeTypeRE  = regexp.MustCompile(`^\s*\}\s*[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\s*(=.*)?;\s*$|^\s*\}\s*;\s*$`)
	memberRE     = regexp.MustCompile(`^\s*(const\s+|volatile\s+|unsigned\s+|signed\s+|struct\s+|union\s+|enum\s+)*[A-Za-z_][A-Za-z0-9_]*[\s*]+\**\s*[A-Za-z_][A-Za-z0-9_]*(\s*\[[^\]]*\])?(\s*:\s*[0-9]+)?\s*;\s*(/\*.*\*/|//.*)?$`)
	enumeratorRE = regexp.MustCompile(`^\s*[A-Z_][A-Z0-9_]*(\s*=\s*[^,;]+)?\s*,?\s*(/\*.*\*/|//.*)?$`)
	globalInitRE = regexp.MustCompile(`^(static\s+|const\s+|extern\s+)*[A-Za-z_][A-Za-z0-9_\s*]*\s\**[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\s*=.*$`)
	staticLocRE  = regexp.MustCompile(`^\s+static\s+[^()]*;\s*$`)
	designatorRE = regexp.MustCompile(`^\s*\.[A-Za-z_][A-Za-z0-9_]*\s*=.*,?\s*$`)
	macroRE      = regexp.MustCompile(`^\s*#\s*[a-z]+`)
)

// Classify says what a hunk that changes no function body changes, from
// its changed lines: KindComment when they are all comments or blank,
// KindMacro when they are preprocessor lines (or comments), KindData when
// one of them declares a data layout or initialiser (a struct, union or
// enum body or its member, a global initialiser, a static local variable),
// else KindUnknown. The patterns are conservative: a line they cannot
// place makes the hunk unknown, never harmless.
func Classify(changed []Line) string {
	inComment := false
	var data, macro, other bool
	for _, l := range changed {
		code := stripComments(l.Text, &inComment)
		t := strings.TrimSpace(code)
		switch {
		case t == "":
		case macroRE.MatchString(code) || strings.HasSuffix(t, "\\"):
			macro = true
		case isData(code):
			data = true
		default:
			other = true
		}
	}
	return kindOf(data, macro, other)
}

// isData reports whether code (a line, or a statement joined from
// several) declares a data layout or initialiser.
func isData(code string) bool {
	t := strings.TrimSpace(code)
	return typeBodyRE.MatchString(code) || closeTypeRE.MatchString(code) || memberRE.MatchString(code) ||
		enumeratorRE.MatchString(code) || globalInitRE.MatchString(t) || staticLocRE.MatchString("\t"+t) ||
		designatorRE.MatchString(code)
}

func kindOf(data, macro, other bool) string {
	switch {
	case other:
		return KindUnknown
	case data:
		return KindData
	case macro:
		return KindMacro
	}
	return KindComment
}

// stripComments removes the comments of one line; inComment carries a
// /* */ comment across lines.
func stripComments(s string, inComment *bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if *inComment {
			if strings.HasPrefix(s[i:], "*/") {
				*inComment = false
				i++
			}
			continue
		}
		if strings.HasPrefix(s[i:], "/*") {
			*inComment = true
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "//") {
			break
		}
		b.WriteByte(s[i])
	}
	// A continuation line of a block comment opened in an earlier hunk
	// line that the diff does not show: " * text".
	if t := strings.TrimSpace(b.String()); strings.HasPrefix(t, "* ") || t == "*" || t == "*/" {
		return ""
	}
	return b.String()
}

// IsStaticLocal reports whether a line inside a function body declares a
// static local variable, whose state a replaced function does not carry.
func IsStaticLocal(text string) bool {
	inComment := false
	return staticLocRE.MatchString(stripComments(text, &inComment))
}
