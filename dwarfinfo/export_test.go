package dwarfinfo

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
)

// SlowProducers reads the unit entries of the object at path through
// debug/dwarf only, to check the fast reader against.
func SlowProducers(path string) ([]Unit, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := slowUnits(f)
	return toUnits(es, FromDebugInfo), err
}

// ProducersFromBytes and InlinesFromBytes run Producers and Inlines on an
// object held in memory (for the fuzz target).
func ProducersFromBytes(name string, b []byte) (units []Unit, err error) {
	defer recoverCorrupt(name, &err)
	f, err := newELF(bytes.NewReader(b), name, int64(len(b)))
	if err != nil {
		return nil, fileErr(name, err)
	}
	units, err = producers(f)
	if err != nil {
		return nil, fileErr(name, err)
	}
	return units, nil
}

func InlinesFromBytes(name string, b []byte) (in *Inlining, err error) {
	defer recoverCorrupt(name, &err)
	f, err := newELF(bytes.NewReader(b), name, int64(len(b)))
	if err != nil {
		return nil, fileErr(name, err)
	}
	in, err = inlines(f)
	if err != nil {
		return nil, fileErr(name, err)
	}
	return in, nil
}

// FastDWARF is loadDWARF's own reading of f (false: it leaves f to
// (*elf.File).DWARF).
func FastDWARF(f *elf.File) (*dwarf.Data, bool, error) { return fastDWARF(f) }
