package rules

// ContainmentChains exposes containmentChains to the tests.
var ContainmentChains = containmentChains
