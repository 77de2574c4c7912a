package callgraph

import (
	"sort"
	"strings"
)

// Suggest returns up to n known function names closest to name: names
// that contain it or that it contains first, then by edit distance. It
// helps a patch author who misspelt a function or asked for one that no
// dump mentions.
func (g *Graph) Suggest(name string, n int) []string {
	type cand struct {
		s    string
		rank int
	}
	var cs []cand
	maxDist := len(name)/3 + 2
	g.ensureAll() // the closest names may be in any unit
	g.mu.RLock()
	defer g.mu.RUnlock()
	for s := range g.byName {
		var r int
		switch {
		case strings.Contains(s, name) || strings.Contains(name, s) && len(s) > 3:
			r = abs(len(s) - len(name))
		default:
			if abs(len(s)-len(name)) > maxDist {
				continue
			}
			d := editDistance(name, s)
			if d > maxDist {
				continue
			}
			r = 1000 + d
		}
		cs = append(cs, cand{s, r})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].rank != cs[j].rank {
			return cs[i].rank < cs[j].rank
		}
		return cs[i].s < cs[j].s
	})
	if len(cs) > n {
		cs = cs[:n]
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.s
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
