package rules

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// The keys a policy file takes, per level.
var (
	policyKeys = []string{"rules", "ignore"}
	ruleKeys   = []string{"severity", "passes", "author-supplies-clone-abi"}
	ignoreKeys = []string{"function", "translation-unit", "rule", "justification"}
)

// checkShape checks the nodes of a policy document against what a policy
// holds, so that a mistake is reported at the line and column of the
// offending node and said in the policy's words ("rules: want a mapping
// of rule names to their settings, not a list"), never in the decoder's
// ("cannot unmarshal !!seq into rules.Policy"). The values themselves
// (which rules, passes and severities exist) are checked after decoding.
func checkShape(file string, doc *yaml.Node) error {
	if doc.Kind == 0 || doc.Kind == yaml.DocumentNode && len(doc.Content) == 0 {
		return nil // an empty file: the default policy
	}
	top := doc
	if top.Kind == yaml.DocumentNode {
		top = top.Content[0]
	}
	c := shapeChecker{file: file}
	top = c.deref(top)
	if isNull(top) {
		return nil
	}
	if top.Kind != yaml.MappingNode {
		return c.errorf(top, "a policy is a mapping with the keys rules and ignore (rules: {icf: {severity: review}}), not %s", kindName(top))
	}
	return c.mapping(top, "the policy", policyKeys, func(key string, v *yaml.Node) error {
		switch key {
		case "rules":
			return c.rules(v)
		default:
			return c.ignore(v)
		}
	})
}

type shapeChecker struct{ file string }

func (c shapeChecker) errorf(n *yaml.Node, format string, args ...any) error {
	return &PolicyError{File: c.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// deref follows an alias (*name) to the node it names.
func (c shapeChecker) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// mapping checks the keys of mapping n (what names it in messages):
// each one of keys, given once, and calls value with each key's value.
func (c shapeChecker) mapping(n *yaml.Node, what string, keys []string, value func(key string, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := c.deref(n.Content[i]), c.deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return c.errorf(k, "%s: a key must be a name, not %s", what, kindName(k))
		}
		if keys != nil && !contains(keys, k.Value) {
			return c.errorf(k, "%s: unknown key %s, want %s", what, k.Value, orList(keys))
		}
		if l, dup := seen[k.Value]; dup {
			return c.errorf(k, "%s: %s given twice (first at line %d)", what, k.Value, l)
		}
		seen[k.Value] = k.Line
		if err := value(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// rules checks the rules mapping: rule name -> its settings.
func (c shapeChecker) rules(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return c.errorf(n, "rules: want a mapping of rule names (%s) to their settings, not %s", strings.Join(RuleIDs, ", "), kindName(n))
	}
	return c.mapping(n, "rules", nil, func(id string, v *yaml.Node) error {
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.MappingNode {
			hint := ""
			if v.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (write %s: {severity: %s})", id, v.Value)
			}
			return c.errorf(v, "rule %s: want its settings as a mapping, not %s%s", id, kindName(v), hint)
		}
		return c.mapping(v, "rule "+id, ruleKeys, func(key string, v *yaml.Node) error {
			switch key {
			case "severity":
				return c.scalar(v, "rule "+id+": severity", "a severity ("+severityChoices(id)+")")
			case "author-supplies-clone-abi":
				if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
					return c.errorf(v, "rule %s: author-supplies-clone-abi: want true or false, not %s", id, kindName(v))
				}
				return nil
			}
			if isNull(v) {
				return nil
			}
			if v.Kind != yaml.MappingNode {
				return c.errorf(v, "rule %s: passes: want a mapping of IPA passes (%s) to severities, not %s", id, strings.Join(CallerPasses, ", "), kindName(v))
			}
			return c.mapping(v, "rule "+id+": passes", nil, func(pass string, v *yaml.Node) error {
				return c.scalar(v, "pass "+pass, "a severity ("+severityChoices(CallerAssumptions)+")")
			})
		})
	})
}

// ignore checks the ignore list: entries of function, translation-unit,
// rule and justification.
func (c shapeChecker) ignore(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return c.errorf(n, "ignore: want a list of entries (- function: NAME, justification: WHY), not %s", kindName(n))
	}
	for _, e := range n.Content {
		e = c.deref(e)
		if e.Kind != yaml.MappingNode {
			return c.errorf(e, "ignore: want each entry as a mapping (function: NAME, justification: WHY), not %s", kindName(e))
		}
		err := c.mapping(e, "ignore entry", ignoreKeys, func(key string, v *yaml.Node) error {
			return c.scalar(v, "ignore entry: "+key, "a value")
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scalar checks that n is a single value (what names the setting, want
// what it takes).
func (c shapeChecker) scalar(n *yaml.Node, what, want string) error {
	if n.Kind != yaml.ScalarNode {
		return c.errorf(n, "%s: want %s, not %s", what, want, kindName(n))
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// kindName names the kind of a node for a policy author.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// orList joins xs as "a, b or c".
func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
