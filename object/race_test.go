//go:build race

package object

// raceEnabled: the race detector slows the whole-kernel cross-checks
// tenfold, so they sample the objects.
const raceEnabled = true
