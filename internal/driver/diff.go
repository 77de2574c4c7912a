package driver

import (
	"os"
	"strings"

	"github.com/klp-audit/klp-audit/objdiff"
)

// Diff compares the original and patched builds of the same code, two
// objects or two build trees, function by function; jobs object pairs
// are read at once in tree mode (0: one per CPU). Files that cannot be
// compared are an *InputError: the comparison would be incomplete.
func Diff(orig, patched string, jobs int) (*objdiff.Report, error) {
	fi1, err := os.Stat(orig)
	if err != nil {
		return nil, Inputf("%v", err)
	}
	fi2, err := os.Stat(patched)
	if err != nil {
		return nil, Inputf("%v", err)
	}
	var rep *objdiff.Report
	switch {
	case fi1.IsDir() && fi2.IsDir():
		rep, err = objdiff.CompareTrees(orig, patched, objdiff.TreeOptions{Workers: jobs})
	case !fi1.IsDir() && !fi2.IsDir():
		rep, err = objdiff.CompareFiles(orig, patched)
	default:
		return nil, Inputf("%s and %s: compare two objects or two build trees, not an object with a tree", orig, patched)
	}
	if err != nil {
		return nil, Inputf("%v", err)
	}
	rep.Tool = Tool()
	return rep, nil
}

// DiffProblems is the input error of a comparison some objects of which
// could not be compared, or nil.
func DiffProblems(rep *objdiff.Report) error {
	if len(rep.Problems) == 0 {
		return nil
	}
	msgs := make([]string, len(rep.Problems))
	for i, p := range rep.Problems {
		msgs[i] = "  " + p.Message
	}
	return Inputf("%d objects could not be compared, the comparison is incomplete:\n%s", len(rep.Problems), strings.Join(msgs, "\n"))
}
