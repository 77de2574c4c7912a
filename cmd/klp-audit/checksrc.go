package main

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/patch"
)

// sameSource reports whether a DWARF file name (often absolute) and a
// diff's path name the same file: equal, or one ends with "/" + the other.
func sameSource(dwarfName, diffName string) bool {
	a, b := filepath.ToSlash(filepath.Clean(dwarfName)), filepath.ToSlash(filepath.Clean(diffName))
	return a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a)
}

// fileDWARF is what the build's DWARF says about one source file.
type fileDWARF struct {
	decls map[string]int // function -> decl_line
	lines map[int]bool   // lines the line tables attribute code to
}

// dwarfExtents reads the DWARF of objs and returns, for each of files
// that some compile unit's line table names, its functions' source
// extents: from DW_AT_decl_line to the last line the line table
// attributes code to before the next function's declaration. Functions
// of a header are gathered from every object that includes it. Objects
// without DWARF are skipped.
func dwarfExtents(objs []string, files []string) map[string][]patch.Extent {
	info := map[string]*fileDWARF{}
	for _, obj := range objs {
		readObjectDWARF(obj, files, info)
	}
	out := map[string][]patch.Extent{}
	for file, fd := range info {
		type decl struct {
			name string
			line int
		}
		var ds []decl
		for n, l := range fd.decls {
			ds = append(ds, decl{n, l})
		}
		sort.Slice(ds, func(i, j int) bool {
			if ds[i].line != ds[j].line {
				return ds[i].line < ds[j].line
			}
			return ds[i].name < ds[j].name
		})
		for i, d := range ds {
			next := int(^uint(0) >> 1)
			if i+1 < len(ds) {
				next = ds[i+1].line
			}
			last := d.line
			for l := range fd.lines {
				if l > last && l < next {
					last = l
				}
			}
			out[file] = append(out[file], patch.Extent{Name: d.name, First: d.line, Last: last})
		}
	}
	return out
}

func readObjectDWARF(obj string, files []string, info map[string]*fileDWARF) {
	defer func() { _ = recover() }() // corrupt DWARF: the source fallback answers
	f, err := elf.Open(obj)
	if err != nil {
		return
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return
	}
	r := d.Reader()
	var fileOf map[int]string // line-table file index -> diff file
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			fileOf = nil
			lr, err := d.LineReader(e)
			if err != nil || lr == nil {
				r.SkipChildren()
				continue
			}
			for i, lf := range lr.Files() {
				if lf == nil {
					continue
				}
				for _, want := range files {
					if sameSource(lf.Name, want) {
						if fileOf == nil {
							fileOf = map[int]string{}
						}
						fileOf[i] = want
					}
				}
			}
			if fileOf == nil {
				r.SkipChildren()
				continue
			}
			var le dwarf.LineEntry
			for {
				if err := lr.Next(&le); err != nil {
					if !errors.Is(err, io.EOF) {
						_ = err
					}
					break
				}
				if le.File == nil {
					continue
				}
				for _, want := range fileOf {
					if sameSource(le.File.Name, want) {
						fd := info[want]
						if fd == nil {
							fd = &fileDWARF{decls: map[string]int{}, lines: map[int]bool{}}
							info[want] = fd
						}
						fd.lines[le.Line] = true
					}
				}
			}
		case dwarf.TagSubprogram:
			if fileOf != nil {
				name, _ := e.Val(dwarf.AttrName).(string)
				df, _ := e.Val(dwarf.AttrDeclFile).(int64)
				dl, _ := e.Val(dwarf.AttrDeclLine).(int64)
				if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); !decl && name != "" && dl > 0 {
					if want, ok := fileOf[int(df)]; ok {
						fd := info[want]
						if fd == nil {
							fd = &fileDWARF{decls: map[string]int{}, lines: map[int]bool{}}
							info[want] = fd
						}
						if old, ok := fd.decls[name]; !ok || int(dl) < old {
							fd.decls[name] = int(dl)
						}
					}
				}
			}
			if e.Children {
				r.SkipChildren()
			}
		default:
			if e.Children && e.Tag != dwarf.TagCompileUnit {
				r.SkipChildren()
			}
		}
	}
}
