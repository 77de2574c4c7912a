package index

import (
	"fmt"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
)

// encodeTable returns the blob of a dump's graph table (callgraph.TableOf),
// its strings in st (the records blob's: see EncodeDump): its record
// counts, its nodes (name, declaration, other declaration files, clone
// kinds, removal), its edges (ends, kind, raw suffix, first evidence
// line, count) and each node's outgoing and incoming edges in order. A
// node's unit and LTO flag are its dump's, not kept.
func encodeTable(st *strTable, t *callgraph.DumpTable) []byte {
	var e Enc
	e.U(uint64(t.Records))
	e.U(uint64(t.Clones))
	e.U(uint64(t.Removes))
	e.U(uint64(len(t.Nodes)))
	for i := range t.Nodes {
		n := &t.Nodes[i]
		e.U(st.id(n.ID.Name))
		e.U(st.id(n.File))
		e.I(int64(n.Line))
		e.I(int64(n.Col))
		e.U(uint64(len(n.Files)))
		for _, f := range n.Files {
			e.U(st.id(f))
		}
		e.U(uint64(len(n.CloneOf)))
		for _, k := range n.CloneOf {
			e.U(uint64(k))
		}
		e.Bool(n.Removed)
	}
	e.U(uint64(len(t.Edges)))
	line := int32(0)
	for _, ed := range t.Edges {
		e.U(uint64(ed.From))
		e.U(uint64(ed.To))
		e.U(uint64(ed.Kind))
		e.U(st.id(ed.Raw))
		e.I(int64(ed.Line - line)) // edges are made in line order: small deltas
		line = ed.Line
		e.U(uint64(ed.Count))
	}
	for _, lists := range [2][][]int32{t.Out, t.In} {
		for _, l := range lists {
			e.U(uint64(len(l)))
			for _, x := range l {
				e.U(uint64(x))
			}
		}
	}
	return e.B
}

// DecodeTable reads a dump's graph table from its blob b and the blob of
// its records (whose string table it uses: EncodeDump), for a dump of
// unit tu (lto: of a link-time optimised program). Besides the blobs'
// encoding, it checks that the table is a graph: every edge joins two of
// its nodes, and each node's lists hold each of its edges once, so that
// a callgraph.Builder may add it as it is.
func DecodeTable(b, records []byte, tu string, lto bool) (*callgraph.DumpTable, error) {
	sd := &Dec{B: records}
	tab := readStrings(sd)
	if err := sd.Err(); err != nil {
		return nil, fmt.Errorf("graph table of %s: the strings of its records: %w", tu, err)
	}
	d := &Dec{B: b}
	t := &callgraph.DumpTable{Records: d.N(1 << 40), Clones: d.N(1 << 40), Removes: d.N(1 << 40)}
	nn := d.N(d.Left())
	t.Nodes = make([]callgraph.Node, nn)
	var files []string
	var kinds []callgraph.EdgeKind
	for i := 0; i < nn && d.err == nil; i++ {
		n := &t.Nodes[i]
		n.ID = callgraph.NodeID{Name: str(d, tab), TU: tu}
		n.File = str(d, tab)
		n.Line, n.Col = int(d.I()), int(d.I())
		if k := d.N(d.Left()); k > 0 {
			lo := len(files)
			for j := 0; j < k && d.err == nil; j++ {
				files = append(files, str(d, tab))
			}
			n.Files = files[lo:len(files):len(files)]
		}
		if k := d.N(d.Left()); k > 0 {
			lo := len(kinds)
			for j := 0; j < k && d.err == nil; j++ {
				kinds = append(kinds, ipadump.Transform(d.N(255)))
			}
			n.CloneOf = kinds[lo:len(kinds):len(kinds)]
		}
		n.Removed = d.Bool()
		n.LTO = lto
	}
	ne := d.N(d.Left())
	t.Edges = make([]callgraph.TableEdge, ne)
	line := int64(0)
	for i := 0; i < ne && d.err == nil; i++ {
		ed := &t.Edges[i]
		ed.From, ed.To = int32(below(d, nn)), int32(below(d, nn))
		ed.Kind = ipadump.Transform(d.N(255))
		ed.Raw = str(d, tab)
		line += d.I()
		if line < 0 || line > 1<<31-1 {
			d.fail()
		}
		ed.Line = int32(line)
		ed.Count = int32(d.N(1<<31 - 1))
	}
	adj := make([]int32, 0, min(2*ne, d.Left()))
	seen := make([]uint8, ne)
	lists := func(bit uint8, end func(*callgraph.TableEdge) int32) [][]int32 {
		out := make([][]int32, nn)
		total := 0
		for i := 0; i < nn && d.err == nil; i++ {
			k := d.N(ne)
			if k == 0 {
				continue
			}
			lo := len(adj)
			for j := 0; j < k && d.err == nil; j++ {
				x := below(d, ne)
				if d.err != nil || end(&t.Edges[x]) != int32(i) || seen[x]&bit != 0 {
					d.fail()
					break
				}
				seen[x] |= bit
				adj = append(adj, int32(x))
			}
			total += k
			out[i] = adj[lo:len(adj):len(adj)]
		}
		if total != ne {
			d.fail()
		}
		return out
	}
	t.Out = lists(1, func(e *callgraph.TableEdge) int32 { return e.From })
	t.In = lists(2, func(e *callgraph.TableEdge) int32 { return e.To })
	if d.Left() != 0 && d.err == nil {
		d.fail()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("graph table of %s: %w", tu, err)
	}
	return t, nil
}

// below reads an index that must be under n.
func below(d *Dec, n int) int {
	v := d.U()
	if v >= uint64(n) {
		d.fail()
		return 0
	}
	return int(v)
}
