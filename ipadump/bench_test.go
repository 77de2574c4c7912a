package ipadump

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchDumps builds a synthetic kernel-sized input in memory, shaped after
// the dumps of Debian's 6.1 kernel/ and mm/ (the kernel fixture: 374 dumps,
// 16 MB, 139k lines of 44 to 250 bytes, 23k distinct names, 900 files):
// kbuild-like paths, header inlines shared by many dumps with a few very
// popular ones (get_current), static functions per dump, one line in five
// repeating the previous line's ORIG, and the kernel's mix of
// transformations (61% "inlining to", 36% removals, then constprop, part,
// isra and a few "(null)").
func benchDumps() (names []string, dumps [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"percpu_ref", "css", "folio", "page", "mem_cgroup", "tlb", "vma", "mmap",
		"rcu", "sched", "cgroup_bpf", "lruvec", "memblock", "oom", "slab", "kmem_cache", "task",
		"cpumask", "rq", "irq", "hrtimer", "workqueue", "pte", "pmd", "swap", "zone", "node",
		"arch_test_bit", "static_key", "fortify_memcpy", "instrument_atomic", "list", "spin", "xa"}
	verbs := []string{"_put_many", "_get", "_release", "_flush", "_lock", "_unlock", "_alloc",
		"_free", "_init", "_update", "_try_charge", "_account", "_walk", "_next", "_batch_pages",
		"_read", "_write", "_chk", "_test", "_is_enabled"}
	type fn struct {
		name, file  string
		order, line int
	}
	headers := make([]string, 550)
	for i := range headers {
		dir := []string{"./include/linux/", "./arch/x86/include/asm/", "./include/trace/events/", "./include/linux/sched/"}[i%4]
		headers[i] = fmt.Sprintf("%s%s%s.h", dir, words[i%len(words)], []string{"", "-refcount", "_types", "_api", "_inline"}[i/len(words)%5])
	}
	shared := make([]fn, 8000)
	for i := range shared {
		shared[i] = fn{fmt.Sprintf("%s%s", words[i%len(words)], verbs[i/len(words)%len(verbs)]), headers[rng.IntN(len(headers))], 0, 1 + rng.IntN(2000)}
		if i >= len(words)*len(verbs) {
			shared[i].name += fmt.Sprintf("_%d", i)
		}
	}
	dirs := []string{"mm", "kernel", "kernel/sched", "kernel/cgroup", "kernel/bpf", "kernel/time", "mm/kasan"}
	const nDumps = 374
	var buf []byte
	for d := range nDumps {
		src := fmt.Sprintf("%s/%s_%d.c", dirs[d%len(dirs)], words[d%len(words)], d)
		names = append(names, src+".000i.ipa-clones")
		// the dump's own functions: ~40 statics and externals, plus the
		// header inlines it uses, each with a per-dump order
		var local []fn
		for k := range 40 {
			local = append(local, fn{fmt.Sprintf("%s%s_%d", words[rng.IntN(len(words))], verbs[k%len(verbs)], d%97), src, 0, 1 + rng.IntN(9000)})
		}
		for i := range local {
			local[i].order = i
		}
		pick := func() fn {
			if rng.IntN(2) == 0 {
				return local[rng.IntN(len(local))]
			}
			u := rng.Float64()
			f := shared[int(u*u*u*float64(len(shared)))] // a few very popular inlines
			f.order = 40 + int(u*1000)
			return f
		}
		buf = buf[:0]
		var prev fn
		for len(buf) < 16<<20/nDumps {
			o := pick()
			if prev.name != "" && rng.IntN(5) == 0 {
				o = prev
			}
			prev = o
			c := local[rng.IntN(len(local))]
			switch p := rng.IntN(1000); {
			case p < 360:
				buf = fmt.Appendf(buf, "Callgraph removal;%s;%d;%s;%d;%d\n", o.name, o.order, o.file, o.line, 1+o.line%40)
			case p < 970:
				buf = fmt.Appendf(buf, "Callgraph clone;%s;%d;%s;%d;%d;%s;%d;%s;%d;%d;inlining to\n",
					o.name, o.order, o.file, o.line, 1+o.line%40, c.name, c.order, c.file, c.line, 5)
			default:
				suffix := []string{"constprop", "part", "isra", "(null)"}[p%4]
				name := fmt.Sprintf("%s.%s.%d", o.name, suffix, rng.IntN(3))
				if suffix == "(null)" {
					name = o.name
				}
				buf = fmt.Appendf(buf, "Callgraph clone;%s;%d;%s;%d;%d;%s;%d;%s;%d;%d;%s\n",
					o.name, o.order, o.file, o.line, 1+o.line%40, name, 1000+rng.IntN(100), o.file, o.line, 1+o.line%40, suffix)
			}
		}
		dumps = append(dumps, bytes.Clone(buf))
	}
	return names, dumps
}

// BenchmarkReader reads the synthetic build, every dump through its own
// Reader and all sharing one Interner, as loading a whole build does.
//
//	go test -run=XXX -bench=Reader -benchtime=3x -cpu=1 ./ipadump
func BenchmarkReader(b *testing.B) {
	names, dumps := benchDumps()
	benchRead(b, names, dumps)
}

// BenchmarkReaderKernel does the same with the dumps of a real kernel build
// (scripts/kernel-fixture.sh) named by $KLP_AUDIT_KERNEL_BUILD, loaded into
// memory first; it is skipped when the variable is unset.
//
//	KLP_AUDIT_KERNEL_BUILD=$HOME/.cache/klp-audit/linux-6.1 \
//	  go test -run=XXX -bench=ReaderKernel -benchtime=3x -cpu=1 ./ipadump
func BenchmarkReaderKernel(b *testing.B) {
	dir := os.Getenv("KLP_AUDIT_KERNEL_BUILD")
	if dir == "" {
		b.Skip("KLP_AUDIT_KERNEL_BUILD is not set")
	}
	ds, err := Discover(dir)
	if err != nil {
		b.Fatal(err)
	}
	if len(ds) == 0 {
		b.Skipf("no dumps under %s", dir)
	}
	var names []string
	var dumps [][]byte
	for _, d := range ds {
		data, err := os.ReadFile(d.Path)
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, d.Path)
		dumps = append(dumps, data)
	}
	benchRead(b, names, dumps)
}

func benchRead(b *testing.B, names []string, dumps [][]byte) {
	var size int64
	for _, d := range dumps {
		size += int64(len(d))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		in := NewInterner()
		records = 0
		for i, d := range dumps {
			r := NewReader(bytes.NewReader(d), names[i])
			r.ShareInterner(in)
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
	}
	b.ReportMetric(float64(records), "records/op")
}

// BenchmarkScanDump searches the synthetic build, written to files, for
// one name and checks every line's form (ScanDump), as a lean query does
// with the dumps that do not name the function: the rate to compare with
// the Reader's.
//
//	go test -run=XXX -bench=ScanDump -benchtime=3x -cpu=1 ./ipadump
func BenchmarkScanDump(b *testing.B) {
	_, dumps := benchDumps()
	dir := b.TempDir()
	var paths []string
	var size int64
	for i, d := range dumps {
		p := filepath.Join(dir, fmt.Sprintf("d%d.c.000i.ipa-clones", i))
		if err := os.WriteFile(p, d, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		size += int64(len(d))
	}
	needles := [][]byte{NameNeedle("percpu_ref_put_many")}
	b.SetBytes(size)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		for _, p := range paths {
			var s Scan
			var err error
			s, buf, err = ScanDump(p, needles, buf)
			if err != nil || !s.Clean {
				b.Fatalf("%s: %v, clean %v", p, err, s.Clean)
			}
		}
	}
}
