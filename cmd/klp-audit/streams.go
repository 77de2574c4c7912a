package main

import (
	"bytes"
	"io"
	"os"
)

// Streams are the command's standard streams: data goes to Out,
// diagnostics to Err.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool
}

// ForceTTYEnv, set to 1, makes klp-audit treat its standard output as a
// terminal. It is for tests only (testscript cannot give a command a
// terminal): what a person sees on one, such as the "next" block after a
// text answer, is then written to a pipe too.
const ForceTTYEnv = "KLP_AUDIT_FORCE_TTY"

func defaultStreams() *Streams {
	tty := os.Getenv(ForceTTYEnv) == "1"
	if st, err := os.Stdout.Stat(); err == nil && !tty {
		tty = st.Mode()&os.ModeCharDevice != 0
	}
	return &Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutTTY: tty}
}

// testStreams returns streams backed by buffers, not a terminal.
func testStreams() (*Streams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Streams{In: &bytes.Buffer{}, Out: &out, Err: &errb}, &out, &errb
}
