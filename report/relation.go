package report

import "strings"

// The relations of a reason chain, each said in one phrase from the side
// of the function the step leads to (Step.To: the target, or the next hop
// towards it). A step's structured kind is its rule and How; this table is
// the one place that says it in words, and every renderer (text, table,
// --explain, DOT, the check report's text, markdown and SARIF, the
// klp-skeleton comments) takes its wording from here:
//
//	caller1 calls the clone leafy.constprop.0.isra.0, whose ABI differs
//	__next_mem_range calls should_skip_region (callers may rely on its body)
//	cgroup_bpf_release holds the inlined code of css_put
//	memblock_dump is called by should_skip_region, compiled for the arguments it passes

// The step kinds (Step.How) of the rules' steps; the containment steps
// are named after GCC's transformation ("inlined", "constprop", ...).
const (
	// HowCalledBy: To calls From (changed-abi, not-patchable, and
	// caller-assumptions on the caller side).
	HowCalledBy = "called by"
	// HowCalls: From calls To (caller-assumptions on the callee side:
	// IPA-VRP and bit-CP compiled To for From's arguments).
	HowCalls = "calls"
	// HowSameBody: To is folded with From (icf; an explained alias).
	HowSameBody = "same body as"
	// HowCallsFolded: To calls the body From shares with its aliases
	// (icf).
	HowCallsFolded = "calls the folded body"
)

// Rule names as the report carries them (Step.Rule, Target.Rule).
const (
	RuleContainment       = "containment"
	RuleChangedABI        = "changed-abi"
	RuleCallerAssumptions = "caller-assumptions"
	RuleICF               = "icf"
	RuleNotPatchable      = "not-patchable"
)

// relation is how one kind of step is said. The sentence is
// "To verb From tail"; tree is the form a tree uses under its parent
// ("its" is the parent), for the containment steps the tree shows.
type relation struct {
	verb, tail string
	tree       string
}

type relationKey struct{ rule, how string }

// relations is the table of phrases, keyed by rule and step kind. The
// containment steps (the dump's transformations) are keyed with an empty
// rule too: the impact graph's edges carry no rule.
var relations = map[relationKey]relation{
	{RuleContainment, "inlined"}:   {verb: "holds the inlined code of", tree: "holds its inlined code"},
	{RuleContainment, "constprop"}: {verb: "is the constprop clone of", tail: " (specialised for constant arguments)", tree: "its constprop clone"},
	{RuleContainment, "isra"}:      {verb: "is the isra clone of", tail: " (parameters rewritten by IPA-SRA)", tree: "its isra clone"},
	{RuleContainment, "part"}:      {verb: "is the split-off part of", tail: " (ipa-split)", tree: "its split-off part"},
	{RuleContainment, "simdclone"}: {verb: "is a vector variant of", tail: " (simd clone)", tree: "its vector variant"},
	{RuleContainment, "copy"}:      {verb: "is a copy of", tail: " (the dump says (null))", tree: "its copy"},

	{RuleChangedABI, HowCalledBy}:        {verb: "calls the clone", tail: ", whose ABI differs"},
	{RuleNotPatchable, HowCalledBy}:      {verb: "calls", tail: ", which cannot be patched"},
	{RuleCallerAssumptions, HowCalledBy}: {verb: "calls", tail: " (callers may rely on its body)"},
	{RuleCallerAssumptions, HowCalls}:    {verb: "is called by", tail: ", compiled for the arguments it passes"},
	{RuleICF, HowCallsFolded}:            {verb: "calls", tail: ", whose body is folded with other symbols (icf)"},
	{RuleICF, HowSameBody}:               {verb: "has the same body as", tail: " (identical code folding)"},
}

// relationOf looks a step's phrase up; a kind the table does not know
// (a transformation a newer GCC names) is said conservatively.
func relationOf(st Step) relation {
	rule := st.Rule
	if rule == "" {
		rule = RuleContainment
	}
	if r, ok := relations[relationKey{rule, st.How}]; ok {
		return r
	}
	if rule == RuleContainment {
		kind := strings.TrimPrefix(st.How, "unknown:")
		if kind == "" || kind == "unknown" {
			return relation{verb: "holds the code of", tail: " (a transformation GCC did not name)", tree: "holds its code"}
		}
		kind = Printable(kind)
		return relation{verb: "holds the code of", tail: " (GCC's " + kind + ")", tree: "holds its code (GCC's " + kind + ")"}
	}
	return relation{verb: "is reached from", tail: " (" + Printable(st.How) + ")"}
}

// HasRelation reports whether the table has a phrase of its own for the
// steps of rule with kind how (a test of the rules checks that every kind
// they make has one).
func HasRelation(rule, how string) bool {
	_, ok := relations[relationKey{rule, how}]
	return ok
}

// Relation says a step from its To's side, as one sentence without a
// final period: "caller1 calls the clone leafy.constprop.0.isra.0, whose
// ABI differs". Names are made printable.
func Relation(st Step) string {
	return displayName(st.To) + " " + Predicate(st)
}

// Predicate is Relation without its subject, for a line that already
// names To: "calls the clone leafy.constprop.0.isra.0, whose ABI differs".
func Predicate(st Step) string {
	r := relationOf(st)
	return r.verb + " " + displayName(st.From) + r.tail
}

// treeRelation is how the tree says a child's relation to its parent.
func treeRelation(st Step) string {
	if r := relationOf(st); r.tree != "" {
		return r.tree
	}
	return relationOf(st).verb + " it"
}

// edgeRelation is the label of a DOT edge drawn from To to From (dir=back),
// so that it reads along the arrow from the target's side: "calls the
// clone\n(whose ABI differs)".
func edgeRelation(st Step) string {
	r := relationOf(st)
	tail := strings.TrimSpace(strings.TrimPrefix(r.tail, ","))
	if tail == "" {
		return r.verb
	}
	if !strings.HasPrefix(tail, "(") {
		tail = "(" + tail + ")"
	}
	return r.verb + "\n" + tail
}

// ChainPredicate says a whole chain from the side of the function it
// leads to, without naming that function, last step first: "holds the
// inlined code of css_put, which holds the inlined code of
// percpu_ref_put_many.constprop.0, which is the constprop clone of
// percpu_ref_put_many (specialised for constant arguments)". Each "which"
// is the function named just before it.
func ChainPredicate(chain []Step) string {
	if len(chain) == 0 {
		return ""
	}
	parts := []string{Predicate(chain[len(chain)-1])}
	for i := len(chain) - 2; i >= 0; i-- {
		parts = append(parts, "which "+Predicate(chain[i]))
	}
	return strings.Join(parts, ", ")
}
