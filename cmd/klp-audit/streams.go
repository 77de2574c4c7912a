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

func defaultStreams() *Streams {
	tty := false
	if st, err := os.Stdout.Stat(); err == nil {
		tty = st.Mode()&os.ModeCharDevice != 0
	}
	return &Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutTTY: tty}
}

// testStreams returns streams backed by buffers, not a terminal.
func testStreams() (*Streams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Streams{In: &bytes.Buffer{}, Out: &out, Err: &errb}, &out, &errb
}
