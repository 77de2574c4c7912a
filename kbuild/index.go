package kbuild

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// Unit is one object of a tree that kbuild compiled, with its command.
type Unit struct {
	// Root is the tree root the command ran from.
	Root string
	Cmd  *CmdFile
	// Err says why the unit cannot be rebuilt (its .cmd file is not a
	// plain compiler run); Cmd then holds only what was read.
	Err error
}

// Units finds, under the build directories, the units that read file
// (slash separated, relative to the tree root): the units compiled from
// it, and every unit whose .cmd dependency list names it (a header, or a
// .c file another one #includes). For a .c file compiled on its own
// (mm/oom_kill.c with mm/.oom_kill.o.cmd) only that unit is returned,
// without reading every .cmd file.
func Units(builds []string, file string) ([]Unit, error) {
	file = strings.TrimPrefix(path.Clean(file), "./")
	if strings.HasSuffix(file, ".c") {
		var out []Unit
		for _, b := range builds {
			obj := strings.TrimSuffix(file, ".c") + ".o"
			p := filepath.Join(b, filepath.FromSlash(CmdPath(obj)))
			if _, err := os.Stat(p); err != nil {
				continue
			}
			u := unitOf(b, p)
			if u.Cmd != nil && u.Cmd.Source == file {
				out = append(out, u)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	var cmds []cmdAt
	for _, b := range builds {
		found, err := cmdFiles(b)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, found...)
	}
	needle := []byte(file)
	var (
		mu  sync.Mutex
		out []Unit
		wg  sync.WaitGroup
	)
	work := make(chan cmdAt)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				data, err := safeio.ReadFile(c.path, MaxCmdSize)
				if err != nil {
					mu.Lock()
					out = append(out, Unit{Root: c.build, Cmd: &CmdFile{Path: c.path}, Err: err})
					mu.Unlock()
					continue
				}
				if !bytes.Contains(data, needle) {
					continue
				}
				u := unitFrom(c.build, c.path, data)
				if u.Cmd == nil || !reads(u.Cmd, file) {
					continue
				}
				mu.Lock()
				out = append(out, u)
				mu.Unlock()
			}
		}()
	}
	for _, c := range cmds {
		work <- c
	}
	close(work)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Cmd.Path < out[j].Cmd.Path })
	return out, nil
}

func reads(cf *CmdFile, file string) bool {
	if cf.Source == file {
		return true
	}
	for _, d := range cf.Deps {
		if d == file {
			return true
		}
	}
	return false
}

type cmdAt struct{ build, path string }

// cmdFiles lists the object .cmd files (.NAME.o.cmd) under dir, without
// following symbolic links.
func cmdFiles(dir string) ([]cmdAt, error) {
	var out []cmdAt
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // an unreadable subdirectory: its units are not found
		}
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".o.cmd") && !strings.HasSuffix(n, ".mod.o.cmd") {
			out = append(out, cmdAt{dir, p})
		}
		return nil
	})
	return out, err
}

func unitOf(build, p string) Unit {
	data, err := safeio.ReadFile(p, MaxCmdSize)
	if err != nil {
		return Unit{Root: build, Cmd: &CmdFile{Path: p}, Err: err}
	}
	return unitFrom(build, p, data)
}

// unitFrom parses a .cmd file found under build and finds the tree root
// its target is relative to (build itself, or the directory above when
// --build named a subdirectory such as mm/).
func unitFrom(build, p string, data []byte) Unit {
	cf, err := ParseCmd(p, data)
	u := Unit{Root: build, Cmd: cf, Err: err}
	if cf == nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			u.Cmd = &CmdFile{Path: p}
		}
		return u
	}
	dir := filepath.ToSlash(filepath.Dir(p))
	tdir := path.Dir(cf.Target)
	switch {
	case tdir == ".":
		u.Root = filepath.FromSlash(dir)
	case dir == tdir:
		u.Root = "."
	case strings.HasSuffix(dir, "/"+tdir):
		u.Root = filepath.FromSlash(strings.TrimSuffix(dir, "/"+tdir))
	default:
		if u.Err == nil {
			u.Err = &ParseError{p, cf.Line, "the target " + cf.Target + " does not lie where the .cmd file is"}
		}
	}
	return u
}
