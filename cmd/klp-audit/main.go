// Command klp-audit tells a Linux kernel livepatch author which functions
// must be replaced for a source-based livepatch to be safe. See README.md.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], defaultStreams()))
}
