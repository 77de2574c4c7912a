package livepatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// A livepatch module is built by kbuild against the kernel tree, with the
// flags every unit of the tree gets: its include paths, the -include of
// kconfig.h (so #ifdef CONFIG_... sees the .config), -D__KERNEL__, the
// machine flags. kbuild records an object's command in DIR/.NAME.o.cmd
// ("cmd_mm/memblock.o := gcc -Wp,-MMD,... -nostdinc -I./arch/x86/include
// ... -c -o mm/memblock.o mm/memblock.c ; ./tools/objtool/objtool ...",
// "savedcmd_" in newer kernels). KbuildPreprocessor reruns its gcc part
// as gcc -E on the livepatch source, keeping only the flags that decide
// what the preprocessor sees.

// maxCmdFile bounds a .cmd file read (its deps list is the bulk of it).
const maxCmdFile = 16 << 20

// maxPreprocessed bounds the preprocessor's output: a livepatch including
// the kernel's headers expands to a few MiB.
const maxPreprocessed = 256 << 20

// preprocessTimeout bounds one preprocessor run.
const preprocessTimeout = 2 * time.Minute

// compilerRE is the compiler word a .cmd file may name for it to be run:
// a plain gcc, cc or clang name looked up in PATH (with a target prefix
// or version suffix), never a path into the build tree.
var compilerRE = regexp.MustCompile(`^([A-Za-z0-9_.+]+-)*(gcc|cc|clang)(-[0-9][0-9.]*)?$`)

// KbuildPreprocessor returns SourceOptions that preprocess a livepatch
// source with the flags of the kbuild command recorded in cmdFile (an
// object's .cmd file of the build at root), run from root as kbuild runs
// it. It fails when the file holds no compiler command it can use.
func KbuildPreprocessor(root, cmdFile string) (SourceOptions, error) {
	data, err := safeio.ReadFile(cmdFile, maxCmdFile)
	if err != nil {
		return SourceOptions{}, err
	}
	line := ""
	for _, l := range strings.SplitN(string(data), "\n", 8) {
		if (strings.HasPrefix(l, "cmd_") || strings.HasPrefix(l, "savedcmd_")) && strings.Contains(l, " := ") {
			line = l[strings.Index(l, " := ")+4:]
			break
		}
	}
	if line == "" {
		return SourceOptions{}, fmt.Errorf("%s: no cmd_ or savedcmd_ line", cmdFile)
	}
	words, err := shellWords(line)
	if err != nil {
		return SourceOptions{}, fmt.Errorf("%s: %v", cmdFile, err)
	}
	if len(words) == 0 || !compilerRE.MatchString(words[0]) {
		return SourceOptions{}, fmt.Errorf("%s: the command does not start with a compiler klp-audit runs (gcc, cc or clang by name): %q", cmdFile, firstWord(words))
	}
	cc, err := exec.LookPath(words[0])
	if err != nil {
		return SourceOptions{}, fmt.Errorf("%s: %v", cmdFile, err)
	}
	flags, compiles := preprocessorFlags(words[1:])
	if !compiles {
		return SourceOptions{}, fmt.Errorf("%s: not a command compiling a C source (no -c)", cmdFile)
	}
	rel := cmdFile
	if r, err := filepath.Rel(root, cmdFile); err == nil && !strings.HasPrefix(r, "..") {
		rel = r
	}
	with := fmt.Sprintf("%s -E and the flags of %s", filepath.Base(words[0]), filepath.ToSlash(rel))
	return SourceOptions{
		PreprocessWith: with,
		Preprocess: func(path string) ([]byte, error) {
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), preprocessTimeout)
			defer cancel()
			args := append(append([]string{}, flags...), "-DMODULE", "-E", "-x", "c", "-o", "-", abs)
			cmd := exec.CommandContext(ctx, cc, args...)
			cmd.Dir = root
			out := &capped{max: maxPreprocessed}
			errOut := &capped{max: 64 << 10}
			cmd.Stdout, cmd.Stderr = out, errOut
			err = cmd.Run()
			if out.over {
				return nil, fmt.Errorf("the output passed %d MiB", maxPreprocessed>>20)
			}
			if err != nil {
				msg := strings.TrimSpace(errOut.String())
				if i := strings.IndexByte(msg, '\n'); i >= 0 {
					msg = msg[:i]
				}
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					msg = "it ran longer than " + preprocessTimeout.String()
				}
				return nil, fmt.Errorf("%v: %s", err, msg)
			}
			return out.Bytes(), nil
		},
	}, nil
}

func firstWord(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return w[0]
}

// preprocessorFlags keeps the flags of a compiler command that decide
// what the preprocessor sees: include paths and forced includes, macro
// definitions (but kbuild's per-object KBUILD_* names), the language
// standard, and the machine, optimisation and code generation flags that
// define macros (-m64, -O2, -fno-PIE). Plugins, dump and profile options,
// response files and anything naming an output are dropped. compiles
// says the command has -c.
func preprocessorFlags(words []string) (flags []string, compiles bool) {
	withArg := map[string]bool{"-I": true, "-iquote": true, "-isystem": true, "-idirafter": true, "-include": true, "-imacros": true,
		"-D": true, "-U": true}
	skipArg := map[string]bool{"-o": true, "-MF": true, "-MT": true, "-MQ": true, "-x": true, "--param": true, "-Xpreprocessor": true,
		"-Xassembler": true, "-Xlinker": true, "-aux-info": true, "-wrapper": true, "-specs": true, "-B": true}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == ";" || w == "&&" || w == "||" || w == "|" {
			break
		}
		switch {
		case w == "-c":
			compiles = true
		case withArg[w] && i+1 < len(words):
			if !kbuildName(w, words[i+1]) {
				flags = append(flags, w, words[i+1])
			}
			i++
		case skipArg[w]:
			i++
		case w == "-nostdinc" || w == "-undef":
			flags = append(flags, w)
		case strings.HasPrefix(w, "-I") || strings.HasPrefix(w, "-iquote") || strings.HasPrefix(w, "-isystem") ||
			strings.HasPrefix(w, "-idirafter"):
			flags = append(flags, w)
		case strings.HasPrefix(w, "-D") || strings.HasPrefix(w, "-U"):
			if !kbuildName(w[:2], w[2:]) {
				flags = append(flags, w)
			}
		case strings.HasPrefix(w, "-std="), strings.HasPrefix(w, "-O"), strings.HasPrefix(w, "-m"):
			flags = append(flags, w)
		case strings.HasPrefix(w, "-f"):
			if !droppedF(w) {
				flags = append(flags, w)
			}
		}
	}
	return flags, compiles
}

// kbuildName reports a -D or -U of the names kbuild gives each object
// (KBUILD_MODNAME, KBUILD_BASENAME, ...): the livepatch module's would be
// its own.
func kbuildName(flag, def string) bool {
	if flag != "-D" && flag != "-U" {
		return false
	}
	return strings.HasPrefix(def, "KBUILD_") || strings.HasPrefix(def, "__KBUILD_")
}

// droppedF reports -f options that load code, read or write files, or
// only matter to the compiler proper.
func droppedF(w string) bool {
	for _, p := range []string{"-fplugin", "-fdump-", "-fprofile", "-fauto-profile", "-fstack-usage", "-fcallgraph-info",
		"-fdiagnostics", "-fopt-info", "-frecord-gcc-switches", "-fsave-optimization-record", "-fcoverage"} {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}

// shellWords splits a command line as sh does for the quoting kbuild
// writes ('...', "...", backslashes); ";" "&&" "||" "|" are words of
// their own.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == ';' || c == '|' || c == '&':
			flush()
			op := string(c)
			if i+1 < len(s) && (c == '|' || c == '&') && s[i+1] == c {
				op += string(c)
				i++
			}
			out = append(out, op)
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in the command")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in the command")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return out, nil
}

// capped is a buffer that keeps at most max bytes and says when more
// came.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(b []byte) (int, error) {
	if c.Len()+len(b) > c.max {
		c.over = true
		return 0, errors.New("output too large")
	}
	return c.Buffer.Write(b)
}

// KbuildCmdFile returns the .cmd file kbuild wrote for object obj
// (DIR/.NAME.o.cmd), if it is there.
func KbuildCmdFile(obj string) (string, bool) {
	p := filepath.Join(filepath.Dir(obj), "."+filepath.Base(obj)+".cmd")
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular()
}

// linkerRE is the command word of a kbuild .cmd file that links objects
// (ld -r of a composite module object) instead of compiling one.
var linkerRE = regexp.MustCompile(`^([A-Za-z0-9_.+]+-)*ld(\.bfd|\.gold|\.lld)?$`)

// Relinked reports whether kbuild made object obj by linking other
// objects (ld -r: a module of several, or of one renamed, objects), as
// its .cmd file says: its symbols are those of the objects it was linked
// from, which are read themselves. False when there is no .cmd file.
func Relinked(obj string) bool {
	cmd, ok := KbuildCmdFile(obj)
	if !ok {
		return false
	}
	f, err := safeio.OpenLimit(cmd, maxCmdFile)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.Read(head)
	line, _, _ := strings.Cut(string(head[:n]), "\n")
	_, rhs, ok := strings.Cut(line, " := ")
	if !ok {
		return false
	}
	words := strings.Fields(rhs)
	return len(words) > 0 && linkerRE.MatchString(words[0])
}
