package kbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/klp-audit/klp-audit/objdiff"
)

// Faithfulness is how a rebuilt original compares with the tree's object.
type Faithfulness struct {
	// Identical: byte for byte the tree's object, objtool's step
	// replayed on a copy.
	Identical bool
	// Objtool says objtool's step was replayed; when it was not,
	// differences of objtool's kind (a jump-label jmp the tree's copy has
	// as a nop, .static_call_sites entries only the tree's copy has) are
	// allowed, and Note says so.
	Objtool bool
	// Differences are the functions and data that differ otherwise, each
	// as "NAME: what": the rebuild is not the build that made the tree.
	Differences []string
	Note        string
}

// Faithful compares the rebuilt original r of cf's unit with the tree's
// object treeObj, after replaying cf's objtool step on a copy of r (see
// Objtool).
func Faithful(ctx context.Context, cf *CmdFile, r *Rebuilt, treeObj string) (Faithfulness, error) {
	var f Faithfulness
	obj, err := Objtool(ctx, cf, r)
	switch {
	case err == nil:
		f.Objtool = true
	case errors.Is(err, ErrObjtoolNotRun):
		obj = r.Object
		f.Note = "objtool's step was not replayed (" + err.Error() + "): differences of objtool's kind were allowed"
	default:
		return f, err
	}
	a, err := os.ReadFile(treeObj)
	if err != nil {
		return f, err
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		return f, err
	}
	if f.Objtool && bytes.Equal(a, b) {
		f.Identical = true
		return f, nil
	}
	rep, err := objdiff.CompareFiles(treeObj, obj)
	if err != nil {
		return f, err
	}
	for _, od := range rep.Objects {
		for _, c := range od.Changed {
			if !f.Objtool && objtoolEdit(c) {
				continue
			}
			what := string(c.Reason)
			if c.First != nil {
				what += fmt.Sprintf(" at %s+%#x: tree %s, rebuilt %s", c.First.Piece, c.First.Offset, c.First.Orig, c.First.Patched)
			}
			f.Differences = append(f.Differences, c.Name+": "+what)
		}
		for _, c := range od.LineShiftOnly {
			f.Differences = append(f.Differences, c.Name+": line numbers")
		}
		for _, fn := range od.Added {
			f.Differences = append(f.Differences, fn.Name+": only in the rebuild")
		}
		for _, fn := range od.Removed {
			f.Differences = append(f.Differences, fn.Name+": only in the tree's object")
		}
		for _, d := range od.DataChanges {
			f.Differences = append(f.Differences, d.Name+": data "+string(d.Status)+" "+d.Reason)
		}
	}
	return f, nil
}

// objtoolEdit says the first difference of c is one objtool makes in the
// tree's copy: a jump-label jmp written as a nop (--hacks=jump_label), or
// a .static_call_sites entry (--static-call) the compiler's output lacks.
// Only the first difference is known, so this is a heuristic, used only
// when objtool could not be replayed.
func objtoolEdit(c objdiff.Change) bool {
	d := c.First
	if d == nil {
		return false
	}
	if strings.Contains(d.Orig, "nop") && strings.HasPrefix(strings.TrimSpace(d.Patched), "jmp") {
		return true
	}
	return strings.Contains(d.Orig, ".static_call_sites") && strings.Contains(d.Patched, "(no entry)")
}
