package kbuild

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// MaxCmdSize caps a .cmd file read: the largest of a distribution kernel
// (a unit including most of include/) is a few hundred KiB.
const MaxCmdSize = 16 << 20

// CmdFile is one parsed .NAME.o.cmd file.
type CmdFile struct {
	// Path is the .cmd file's path as given.
	Path string
	// Target is the object the command builds, relative to the tree
	// root (mm/oom_kill.o).
	Target string
	// Line is the line of the cmd_ (savedcmd_) assignment.
	Line int
	// Command is the recorded command, make's escapes undone.
	Command string
	// Compile is the compiler part of Command (up to the first ";"),
	// as the words the compiler receives (quotes removed).
	Compile []string
	// Post are the commands after the compiler's, each as words (objtool,
	// fixdep); a segment that is not plain words is left out and named in
	// PostSkipped.
	Post        [][]string
	PostSkipped []string
	// Source is the source file (source_ line, else the compiler's input
	// word), relative to the tree root.
	Source string
	// Deps are the files the unit read (the deps_ list, without make's
	// $(wildcard ...) entries), relative to the tree root.
	Deps []string
}

// ParseError is a .cmd file that cannot be used to rebuild its object.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ErrNotCmd says a file is not a kbuild .cmd file for an object.
var ErrNotCmd = errors.New("not a kbuild object command file")

// ReadCmd reads and parses the .cmd file at p.
func ReadCmd(p string) (*CmdFile, error) {
	data, err := safeio.ReadFile(p, MaxCmdSize)
	if err != nil {
		return nil, err
	}
	return ParseCmd(p, data)
}

// CmdPath is the .cmd file kbuild writes for obj (mm/oom_kill.o gives
// mm/.oom_kill.o.cmd).
func CmdPath(obj string) string {
	dir, base := path.Split(obj)
	return dir + "." + base + ".cmd"
}

var compilerRE = regexp.MustCompile(`^(?:[A-Za-z0-9_.+]+-)*(?:gcc|cc|clang)(?:-[0-9][0-9.]*)?$`)

// ParseCmd parses a .cmd file's content; name is its path, for errors.
// The command must be a compiler run ("gcc", "x86_64-linux-gnu-gcc-12",
// "clang") with -c and "-o TARGET"; anything else is a *ParseError, and
// the CmdFile returned with it holds what was read (target, source,
// deps), to say which unit cannot be rebuilt. A file with no command
// assignment gives a nil CmdFile.
func ParseCmd(name string, data []byte) (*CmdFile, error) {
	cf := &CmdFile{Path: name}
	lines := logicalLines(string(data))
	var cmdText string
	for _, l := range lines {
		key, val, ok := strings.Cut(l.text, " := ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(key, "savedcmd_") || strings.HasPrefix(key, "cmd_"):
			if cf.Line != 0 {
				return nil, &ParseError{name, l.line, "a second command assignment (the first is at line " + fmt.Sprint(cf.Line) + ")"}
			}
			cf.Target = strings.TrimPrefix(strings.TrimPrefix(key, "savedcmd_"), "cmd_")
			cf.Line = l.line
			cmdText = val
		case strings.HasPrefix(key, "source_"):
			cf.Source = strings.TrimSpace(val)
		case strings.HasPrefix(key, "deps_"):
			cf.Deps = depsList(val)
		}
	}
	if cf.Line == 0 {
		return nil, &ParseError{name, 0, fmt.Sprintf("no cmd_OBJ := or savedcmd_OBJ := line: %v", ErrNotCmd)}
	}
	if !strings.HasSuffix(cf.Target, ".o") || !cleanRel(cf.Target) {
		return cf, &ParseError{name, cf.Line, fmt.Sprintf("the target %q is not a relative object path inside the tree", cf.Target)}
	}
	cf.Command = unescapeMake(cmdText)
	segs, err := splitCommand(cf.Command)
	if err != nil {
		return cf, &ParseError{name, cf.Line, err.Error()}
	}
	cf.Compile = segs[0].words
	if segs[0].err != nil {
		return cf, &ParseError{name, cf.Line, "the compiler command: " + segs[0].err.Error()}
	}
	for _, s := range segs[1:] {
		if s.err != nil || len(s.words) == 0 {
			cf.PostSkipped = append(cf.PostSkipped, strings.TrimSpace(s.text))
			continue
		}
		cf.Post = append(cf.Post, s.words)
	}
	if len(cf.Compile) == 0 || !compilerRE.MatchString(path.Base(cf.Compile[0])) {
		first := ""
		if len(cf.Compile) > 0 {
			first = cf.Compile[0]
		}
		return cf, &ParseError{name, cf.Line, fmt.Sprintf("the command runs %q, not a C compiler (gcc, cc, clang): refusing to run it", first)}
	}
	hasC, outs, input := false, 0, ""
	for i := 1; i < len(cf.Compile); i++ {
		w := cf.Compile[i]
		switch {
		case w == "-c":
			hasC = true
		case w == "-o":
			if i+1 >= len(cf.Compile) || cf.Compile[i+1] != cf.Target {
				return cf, &ParseError{name, cf.Line, fmt.Sprintf("-o does not name the target %s", cf.Target)}
			}
			outs++
			i++
		case strings.HasPrefix(w, "-o"):
			return cf, &ParseError{name, cf.Line, fmt.Sprintf("%q: write -o and the output as two words", w)}
		case w == "-MF" || w == "-MT" || w == "-MQ" || w == "-MD" || w == "-MMD":
			return cf, &ParseError{name, cf.Line, fmt.Sprintf("%q: a dependency output other than -Wp,-MMD,FILE is not supported", w)}
		case !strings.HasPrefix(w, "-") && (strings.HasSuffix(w, ".c") || strings.HasSuffix(w, ".S")):
			input = w
		}
	}
	if !hasC || outs != 1 {
		return cf, &ParseError{name, cf.Line, "the command does not compile one object (-c and one -o " + cf.Target + ")"}
	}
	if cf.Source == "" {
		cf.Source = input
	}
	if cf.Source == "" || input != cf.Source {
		return cf, &ParseError{name, cf.Line, fmt.Sprintf("the compiler's input %q is not the recorded source %q", input, cf.Source)}
	}
	if !cleanRel(cf.Source) {
		return cf, &ParseError{name, cf.Line, fmt.Sprintf("the source %q is not a relative path inside the tree (out-of-tree builds are not rebuilt)", cf.Source)}
	}
	return cf, nil
}

// cleanRel says p is a relative path that stays inside its root.
func cleanRel(p string) bool {
	p = strings.TrimPrefix(p, "./")
	return p != "" && !path.IsAbs(p) && p != ".." && !strings.HasPrefix(path.Clean(p), "../")
}

type logicalLine struct {
	text string
	line int // first physical line
}

// logicalLines joins backslash-continued lines, as make reads them.
func logicalLines(s string) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(s, "\n") {
		if cur.Len() == 0 {
			start = i + 1
		}
		if t, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(t)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(l)
		out = append(out, logicalLine{cur.String(), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, logicalLine{cur.String(), start})
	}
	return out
}

// unescapeMake undoes kbuild's make-cmd escapes: "$$" is "$", and
// "$(pound)" is "#".
func unescapeMake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$(pound)"):
			b.WriteByte('#')
			i += len("$(pound)") - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// depsList reads a deps_ value: file names, $(wildcard ...) entries
// (make's, for configuration options) left out.
func depsList(v string) []string {
	var out []string
	fs := strings.Fields(v)
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		if strings.HasPrefix(f, "$(wildcard") {
			for i < len(fs) && !strings.HasSuffix(fs[i], ")") {
				i++
			}
			continue
		}
		if strings.HasPrefix(f, "$(") {
			continue
		}
		out = append(out, strings.TrimPrefix(f, "./"))
	}
	return out
}

type segment struct {
	text  string
	words []string
	err   error
}

// splitCommand splits a shell command at its unquoted ";" and each part
// into words, the way sh would for plain words: quotes removed, backslash
// escapes resolved. A part holding anything else (an expansion, a
// substitution, a pipe, a redirection, a glob) keeps an error: it is
// never run.
func splitCommand(s string) ([]segment, error) {
	var segs []segment
	var words []string
	var cur strings.Builder
	var err error
	inWord := false
	segStart := 0
	endWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	endSeg := func(i int) {
		endWord()
		segs = append(segs, segment{text: s[segStart:i], words: words, err: err})
		words, err = nil, nil
		segStart = i + 1
	}
	fail := func(i int, what string) {
		if err == nil {
			err = fmt.Errorf("%s at column %d is not supported: refusing to run it", what, i+1)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' quote at column %d", i+1)
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case '"':
			inWord = true
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				switch s[j] {
				case '\\':
					if j+1 < len(s) && strings.IndexByte("\"\\$`", s[j+1]) >= 0 {
						j++
					} else if j+1 < len(s) && s[j+1] == '\n' {
						j++
						continue
					}
				case '$', '`':
					fail(j, fmt.Sprintf("%q inside double quotes", s[j]))
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated \" quote at column %d", i+1)
			}
			i = j
		case '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
					inWord = true
				}
			}
		case ' ', '\t', '\n':
			endWord()
		case ';':
			endSeg(i)
		case '$', '`', '|', '&', '<', '>', '(', ')', '*', '?', '[', '{', '}':
			fail(i, fmt.Sprintf("the shell character %q", c))
			cur.WriteByte(c)
			inWord = true
		case '~', '#':
			if !inWord {
				fail(i, fmt.Sprintf("the shell character %q at the start of a word", c))
			}
			cur.WriteByte(c)
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	endSeg(len(s))
	return segs, nil
}
