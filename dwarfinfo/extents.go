package dwarfinfo

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
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

// Extent is a function's source extent in one file: the lines from its
// declaration to the last line the line tables attribute code to.
type Extent struct {
	Name        string
	First, Last int
}

// FunctionExtents reads the DWARF of objs and returns, for each of files
// that some compile unit's line table names, its functions' source
// extents: from DW_AT_decl_line to the last line the line table
// attributes code to before the next function's declaration. Functions
// of a header are gathered from every object that includes it. Objects
// that cannot be opened or have no DWARF are skipped; objects whose DWARF
// is corrupt are named in errs, with what was read of them kept.
func FunctionExtents(objs []string, files []string) (ext map[string][]Extent, errs []error) {
	info := map[string]*fileDWARF{}
	for _, obj := range objs {
		if err := readObjectDWARF(obj, files, info); err != nil {
			errs = append(errs, err)
		}
	}
	out := map[string][]Extent{}
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
			out[file] = append(out[file], Extent{Name: d.name, First: d.line, Last: last})
		}
	}
	return out, errs
}

func readObjectDWARF(obj string, files []string, info map[string]*fileDWARF) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: corrupt DWARF: %v", obj, p)
		}
	}()
	fh, oerr := safeio.OpenObject(obj)
	if oerr != nil {
		return nil // not an object the build's DWARF can come from
	}
	defer fh.Close()
	f, oerr := elf.NewFile(fh.SectionReader())
	if oerr != nil {
		return nil
	}
	if cerr := safeio.CheckCompressed(f, obj, fh.Size); cerr != nil {
		return cerr
	}
	d, derr := loadDWARF(f)
	if derr != nil {
		return nil // no DWARF: the source fallback answers
	}
	r := d.Reader()
	var fileOf map[int]string // line-table file index -> diff file
	for {
		e, rerr := r.Next()
		if rerr != nil {
			return fmt.Errorf("%s: %w", obj, rerr)
		}
		if e == nil {
			return nil
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			fileOf = nil
			lr, lerr := d.LineReader(e)
			if lerr != nil || lr == nil {
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
				if lerr := lr.Next(&le); lerr != nil {
					if !errors.Is(lerr, io.EOF) {
						return fmt.Errorf("%s: line table: %w", obj, lerr)
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
