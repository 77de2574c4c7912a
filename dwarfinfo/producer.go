package dwarfinfo

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// ErrNoDWARF says an object has no debug info to read: its build flags
// are unknown and every analysis must be assumed live. Test with
// errors.Is.
var ErrNoDWARF = errors.New("no DWARF debug info")

// ErrCorrupt says the debug info could not be decoded. Test with
// errors.Is.
var ErrCorrupt = errors.New("corrupt debug info")

// Where a Unit was read from.
const (
	// FromDebugInfo: the unit's entry in .debug_info.
	FromDebugInfo = ".debug_info"
	// FromEarlyDebug: the early debug info GCC keeps in a slim LTO object
	// (.gnu.debuglto_.debug_info).
	FromEarlyDebug = ".gnu.debuglto_.debug_info"
	// FromLTOOptions: the .gnu.lto_.opts section of a slim LTO object
	// compiled without -g; it lists the compile options, and Producer is
	// empty.
	FromLTOOptions = ".gnu.lto_.opts"
)

// Unit is one compilation unit of an object.
type Unit struct {
	// Name is DW_AT_name: the primary source file ("mm/oom_kill.c"), or
	// "" for an LTO partition.
	Name string
	// CompDir is DW_AT_comp_dir, the compilation directory.
	CompDir string
	// Producer is DW_AT_producer as recorded: the compiler, its version and
	// the switches.
	Producer string
	// Flags is ParseProducer(Producer).
	Flags Flags
	// From says where the unit was read: FromDebugInfo, FromEarlyDebug or
	// FromLTOOptions.
	From string
}

// Producers returns the compilation units of the ELF object at path, each
// with its DW_AT_producer and the flags parsed from it. It reads only the
// unit entries, so it is fast enough for every object of a kernel tree.
// A slim LTO object gives the units of its early debug info; one compiled
// without -g gives a single unit read from .gnu.lto_.opts. An object with
// no debug info at all gives an error wrapping ErrNoDWARF. Errors name the
// file.
func Producers(path string) (units []Unit, err error) {
	defer recoverCorrupt(path, &err)
	f, closer, err := openELF(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	defer closer.Close()
	units, err = producers(f)
	if err != nil {
		return nil, fileErr(path, err)
	}
	return units, nil
}

func producers(f *elf.File) ([]Unit, error) {
	switch {
	case hasData(f, ".debug_info"):
		es, err := fastUnits(f, "")
		if errors.Is(err, errUnsupported) {
			es, err = slowUnits(f)
		}
		return toUnits(es, FromDebugInfo), err
	case hasData(f, ".gnu.debuglto_.debug_info"):
		es, err := fastUnits(f, ".gnu.debuglto_")
		if errors.Is(err, errUnsupported) {
			return nil, fmt.Errorf("early debug info (.gnu.debuglto_.debug_info) in a form klp-audit cannot read: %w", ErrCorrupt)
		}
		return toUnits(es, FromEarlyDebug), err
	case hasData(f, ".zdebug_info"):
		es, err := slowUnits(f)
		return toUnits(es, FromDebugInfo), err
	case hasData(f, ".gnu.lto_.opts"):
		u, err := ltoOptionsUnit(f)
		if err != nil {
			return nil, err
		}
		return []Unit{u}, nil
	}
	return nil, ErrNoDWARF
}

func hasData(f *elf.File, name string) bool {
	s := f.Section(name)
	return s != nil && s.Type != elf.SHT_NOBITS && s.Size > 0
}

func toUnits(es []cuEntry, from string) []Unit {
	if len(es) == 0 {
		return nil
	}
	out := make([]Unit, len(es))
	for i, e := range es {
		out[i] = Unit{Name: e.name, CompDir: e.compDir, Producer: e.producer, Flags: ParseProducer(e.producer), From: from}
	}
	return out
}

func fastUnits(f *elf.File, prefix string) ([]cuEntry, error) {
	r, err := newCUReader(f, prefix)
	if err != nil {
		return nil, err
	}
	return r.units()
}

// slowUnits reads the unit entries through debug/dwarf, which decodes and
// relocates every debug section.
func slowUnits(f *elf.File) ([]cuEntry, error) {
	d, err := loadDWARF(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var out []cuEntry
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if e == nil {
			return out, nil
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagSkeletonUnit:
			c := cuEntry{}
			c.name, _ = e.Val(dwarf.AttrName).(string)
			c.compDir, _ = e.Val(dwarf.AttrCompDir).(string)
			c.producer, _ = e.Val(dwarf.AttrProducer).(string)
			out = append(out, c)
		}
		r.SkipChildren()
	}
}

// ltoOptionsUnit builds a unit from the .gnu.lto_.opts section GCC writes
// into an LTO object: the compile options, each in single quotes.
func ltoOptionsUnit(f *elf.File) (Unit, error) {
	d, err := f.Section(".gnu.lto_.opts").Data()
	if err != nil {
		return Unit{}, fmt.Errorf(".gnu.lto_.opts: %w", err)
	}
	fl := Flags{Compiler: GCC, LTO: true}
	if c := f.Section(".comment"); c != nil {
		if b, err := c.Data(); err == nil {
			fl.Version = gccVersionFromComment(b)
		}
	}
	for _, o := range splitQuoted(string(d)) {
		if strings.HasPrefix(o, "-") && o != "-" {
			fl.Recorded = true
			fl.apply(o)
		}
	}
	fl.LTO = true
	return Unit{Flags: fl, From: FromLTOOptions}, nil
}

// splitQuoted splits the option list GCC writes into .gnu.lto_.opts:
// options separated by spaces, each in single quotes, a quote inside an
// option escaped with a backslash outside the quotes.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			in = !in
			have = true
		case c == '\\' && !in && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			have = true
		case (c == ' ' || c == '\n' || c == '\t' || c == 0) && !in:
			if have {
				out = append(out, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// gccVersionFromComment finds the version in a .comment section such as
// "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0".
func gccVersionFromComment(b []byte) string {
	for _, s := range bytes.Split(b, []byte{0}) {
		t := string(s)
		if !strings.HasPrefix(t, "GCC: ") {
			continue
		}
		fs := strings.Fields(t)
		if v := fs[len(fs)-1]; startsWithDigit(v) {
			return v
		}
	}
	return ""
}

// ObjectUnits is what Producers read of one object.
type ObjectUnits struct {
	Path  string
	Units []Unit
	Err   error
}

// ProducersAll runs Producers over paths with the given number of
// goroutines (at least one) and returns the results in the order of
// paths.
func ProducersAll(paths []string, workers int) []ObjectUnits {
	out := make([]ObjectUnits, len(paths))
	par.Each(len(paths), workers, func(i int) {
		us, err := Producers(paths[i])
		out[i] = ObjectUnits{Path: paths[i], Units: us, Err: err}
	})
	return out
}

// fileErr prefixes err with path unless it already names it.
func fileErr(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) || strings.Contains(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// openELF opens the ELF file at path through safeio (a regular file only,
// so a FIFO never blocks) and refuses it when its compressed sections
// would expand beyond safeio.DecompressedLimit: a 530 KB object can hold
// a zstd .debug_info of 16 GiB. Close the returned Closer when done.
func openELF(path string) (*elf.File, io.Closer, error) {
	fh, err := safeio.OpenObject(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := newELF(fh.SectionReader(), path, fh.Size)
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return f, fh, nil
}

// newELF reads an ELF file of size bytes from r, checking its compressed
// sections as openELF does.
func newELF(r io.ReaderAt, path string, size int64) (*elf.File, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	if err := safeio.CheckCompressed(f, path, size); err != nil {
		return nil, err
	}
	return f, nil
}

// recoverCorrupt turns a panic in the ELF or DWARF decoders into an error
// wrapping ErrCorrupt that names the file.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %w: %v", path, ErrCorrupt, r)
	}
}
