package driver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/patch"
)

// sourceTree is one directory a build's sources are read from.
type sourceTree struct {
	dir string
	// unknown, for a kernel O= build whose source tree was not found,
	// says why (dir is then "").
	unknown string
}

// sourceTrees returns where the sources of o's builds are, in the order
// they are searched: --source alone when given; otherwise, per build, the
// kernel source tree of an O= build (its "source" link or generated
// Makefile) and the build directory itself for any other build.
func sourceTrees(o Options) ([]sourceTree, error) {
	if o.Source != "" {
		st, err := os.Stat(o.Source)
		if err != nil {
			return nil, Inputf("--source: %v", err)
		}
		if !st.IsDir() {
			return nil, Inputf("--source %s: not a directory", o.Source)
		}
		return []sourceTree{{dir: o.Source}}, nil
	}
	var out []sourceTree
	for _, b := range o.Builds {
		kb := livepatch.DetectBuild(b)
		switch {
		case !kb.OutOfTree:
			out = append(out, sourceTree{dir: b})
		case kb.Source != "":
			out = append(out, sourceTree{dir: kb.Source})
		default:
			out = append(out, sourceTree{unknown: b + " is a kernel O= build whose source tree was not found: " + kb.Why})
		}
	}
	return out, nil
}

// sourcePrefixes returns the prefixes the compiler wrote before source
// paths in o's builds when the sources are not the build directory's (an
// O= build): the source tree, as given and with its links resolved (kbuild
// names it by its real path), and as a relative name ("..") when the build
// names it so. Stripped like --strip-prefix, they make the answer's source
// paths the tree's own (mm/oom_kill.c) whatever the layout.
func sourcePrefixes(o Options) []string {
	var out []string
	add := func(dir string) {
		if dir == "" {
			return
		}
		out = append(out, dir)
		if abs, err := filepath.Abs(dir); err == nil {
			out = append(out, abs)
		}
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			out = append(out, real)
		}
	}
	if o.Source != "" {
		add(o.Source)
	}
	for _, b := range o.Builds {
		if kb := livepatch.DetectBuild(b); kb.OutOfTree && kb.Source != "" {
			add(kb.Source)
			if kb.SourceNamed != "" {
				out = append(out, kb.SourceNamed)
			}
		}
	}
	return out
}

// buildSource reads the original of f from the first source tree that
// has it (sourceTrees), never outside it: a diff path that climbs out of
// the tree ("../", absolute, a link out of it) is an input error, and so is
// a file in no tree: the diff does not apply.
func buildSource(o Options, f patch.File) ([]string, error) {
	if f.OldName == "" {
		return nil, Inputf("the diff does not apply to the build's sources: it creates %s, which no build compiled", f.NewName)
	}
	trees, err := sourceTrees(o)
	if err != nil {
		return nil, err
	}
	rel := filepath.FromSlash(f.OldName)
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return nil, Inputf("the diff names %s, which is outside the source tree: diff paths are relative to the tree's top (git diff's a/ b/ names)", f.OldName)
	}
	var searched, unknown []string
	for _, t := range trees {
		if t.dir == "" {
			unknown = append(unknown, t.unknown)
			continue
		}
		searched = append(searched, t.dir)
		data, err := safeio.ReadFileIn(t.dir, rel, maxSource)
		if err == nil {
			return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nil
		}
		if errors.Is(err, safeio.ErrEscapes) {
			return nil, Inputf("the diff names a file outside the source tree: %v", err)
		}
	}
	msg := "the diff does not apply to the build's sources: " + f.OldName + " is not in " + strings.Join(searched, ", ")
	if len(searched) == 0 {
		msg = "the build's sources are not found, so the diff cannot be mapped"
	}
	for _, u := range unknown {
		msg += "\n  " + u + "; give --source DIR, the kernel source tree"
	}
	return nil, Inputf("%s", msg)
}

// isSourceLink reports whether path is the "source" link kbuild writes at
// the top of an O= build among builds: expected there, and not a note.
func isSourceLink(builds []string, path string) bool {
	for _, b := range builds {
		if filepath.Clean(path) == filepath.Join(b, "source") && livepatch.DetectBuild(b).OutOfTree {
			return true
		}
	}
	return false
}
