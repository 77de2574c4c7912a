package ipadump

import "regexp"

// cloneSuffixRE matches one suffix GCC appends to a clone's assembler
// name: .constprop.N, .isra.N, .part.N, .simdclone.N.
var cloneSuffixRE = regexp.MustCompile(`\.(constprop|isra|part|simdclone)\.[0-9]+`)

// CloneName reads what a function's name says of how GCC made it, for a
// name no dump line explains: base is the name before the first clone
// suffix (big for big.constprop.0.isra.0), kinds the transformations the
// suffixes name, first to last (constprop, isra), and last says the name
// ends with one (a .cold piece of a clone does not).
func CloneName(name string) (base string, kinds []Transform, last bool) {
	ms := cloneSuffixRE.FindAllStringSubmatchIndex(name, -1)
	if len(ms) == 0 {
		return name, nil, false
	}
	for _, m := range ms {
		kinds = append(kinds, ParseTransform(name[m[2]:m[3]]))
	}
	return name[:ms[0][0]], kinds, ms[len(ms)-1][1] == len(name)
}
