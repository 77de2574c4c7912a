package callgraph

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// StripPrefixes are removed from declaration files (absolute build
	// directories, say).
	StripPrefixes []string
	// ObjectUnits are units without a dump (a clang build, or gcc without
	// -fdump-ipa-clones) whose inlining is taken from their objects'
	// DWARF; see Builder.AddObjectInlining. Objects whose DWARF cannot be
	// read are reported in the error like unreadable dumps.
	ObjectUnits []ObjectUnit
	// Dumps, when set, holds dumps read before: their records are taken
	// from it (see DumpStore).
	Dumps DumpStore
	// Prescan, when set, holds the scans of dumps made while the build
	// was walked: LoadPartial takes them for the same names.
	Prescan *Prescan
	// Workers is the number of dumps read and parsed at once; 0 means
	// twice GOMAXPROCS, at least 4: on a cold page cache reading waits on
	// the disk, and more reads in flight finish sooner.
	Workers int
}

// ObjectUnit is a unit known only by its object.
type ObjectUnit struct{ TU, Object string }

// Load reads every dump and builds the graph. Dumps are parsed in parallel
// and added in the order given, so the graph does not depend on timing.
// Problems (unreadable files, malformed lines) do not stop the load: they
// are returned together as an ipadump.ErrorList, sorted by dump and line,
// and a caller must treat the graph as incomplete when the error is non-nil.
func Load(dumps []ipadump.Dump, opt LoadOptions) (*Graph, error) {
	var total int64
	for _, d := range dumps {
		// Only dumps that will be read count: a sparse 200 GB file is
		// refused by readDump and must not size the tables.
		if st, err := os.Stat(d.Path); err == nil && st.Mode().IsRegular() && st.Size() <= ipadump.MaxDumpSize {
			total += st.Size()
		}
	}
	b := NewBuilderSize(total)
	errs := addDumps(b, dumps, opt)
	for _, u := range opt.ObjectUnits {
		in, err := readObjectUnit(u)
		if err != nil {
			errs.Add(err)
			continue
		}
		b.AddObjectInlining(u.TU, u.Object, in)
	}
	errs.Sort()
	return b.Graph(), errs.Err()
}

// workers returns the number of dumps read at once (LoadOptions.Workers).
func (opt LoadOptions) workers() int {
	if opt.Workers > 0 {
		return opt.Workers
	}
	return max(4, 2*runtime.GOMAXPROCS(0))
}

// addDumps reads the dumps in parallel and adds them to b in the order
// given; it returns the problems met.
func addDumps(b *Builder, dumps []ipadump.Dump, opt LoadOptions) ipadump.ErrorList {
	workers := opt.workers()
	type result struct {
		recs  []ipadump.Record
		table *DumpTable // instead of recs: the store's table of a unit's only dump
		errs  ipadump.ErrorList
	}
	// A unit of one dump is added by its table when the store holds it.
	perTU := map[string]int{}
	if _, ok := opt.Dumps.(TableStore); ok {
		for _, d := range dumps {
			perTU[d.TU]++
		}
	}
	results := make([]chan result, len(dumps))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	jobs := make(chan int)
	// At most 4 parsed dumps per worker wait for the builder.
	window := make(chan struct{}, 4*workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One reader per worker: its buffer and interner serve every
			// dump the worker parses.
			rd := newReader(opt)
			for i := range jobs {
				if perTU[dumps[i].TU] == 1 {
					if t, ok := opt.table(dumps[i]); ok {
						results[i] <- result{table: t}
						continue
					}
				}
				recs, errs := readDumpVia(opt, rd, dumps[i])
				results[i] <- result{recs: recs, errs: errs}
			}
		}()
	}
	go func() {
		for i := range dumps {
			window <- struct{}{}
			jobs <- i
		}
		close(jobs)
	}()
	var errs ipadump.ErrorList
	for i, d := range dumps {
		r := <-results[i]
		<-window
		if r.table != nil {
			if b.AddTable(d, r.table) {
				continue
			}
			r.recs, r.errs = readDumpVia(opt, newReader(opt), d)
		}
		b.AddDump(d, r.recs)
		errs = append(errs, r.errs...)
	}
	wg.Wait()
	return errs
}

// newReader returns a dump reader for opt.
func newReader(opt LoadOptions) *ipadump.Reader {
	rd := ipadump.NewReader(nil, "")
	rd.StripPrefixes(opt.StripPrefixes)
	return rd
}

// readObjectUnit reads the inlining of a unit without a dump from its
// object's DWARF; the error names the object.
func readObjectUnit(u ObjectUnit) (*dwarfinfo.Inlining, error) {
	in, err := dwarfinfo.Inlines(u.Object)
	if err != nil {
		if errors.Is(err, dwarfinfo.ErrNoDWARF) {
			err = errors.New("no ipa-clones dump beside it and no DWARF debug info (built without -g): where its code was inlined is unknown (rebuild it with -fdump-ipa-clones, or -g)")
		} else {
			err = fmt.Errorf("no ipa-clones dump beside it, and its DWARF cannot give the inlining: %w", err)
		}
		return nil, &ipadump.FileError{Path: u.Object, Err: err}
	}
	return in, nil
}

// maxPreallocRecords bounds the records allocated for one dump before any
// is read (the largest kernel unit dumps hold about 20,000).
const maxPreallocRecords = 1 << 16

func readDump(r *ipadump.Reader, path string) ([]ipadump.Record, ipadump.ErrorList) {
	f, err := ipadump.OpenDump(path)
	if err != nil {
		var errs ipadump.ErrorList
		errs.Add(&ipadump.FileError{Path: path, Err: fmt.Errorf("reading dump: %w", err)})
		return nil, errs
	}
	defer f.Close()
	return parseDump(r, f.Reader(), f.Size, path)
}

// parseDump reads the records of dump path, of the given size, from src.
func parseDump(r *ipadump.Reader, src io.Reader, size int64, path string) ([]ipadump.Record, ipadump.ErrorList) {
	var errs ipadump.ErrorList
	r.Reset(src, path)
	// Record lines are 100 to 200 bytes; preallocate to avoid regrowth,
	// but never more than a large unit needs: the file's size is a claim.
	recs := make([]ipadump.Record, 0, min(size/128+1, maxPreallocRecords))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A bad line is reported and the next one read; after an
			// I/O error the reader answers io.EOF.
			errs.Add(err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}
