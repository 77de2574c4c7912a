package main

import (
	"errors"
	"io"
)

// Exit codes. Documented in the root command's help and in README.md.
const (
	// ExitOK: the answer is complete.
	ExitOK = 0
	// ExitIncomplete: an answer was printed, but evidence was missing or
	// unreadable, so it may be short. Never treat it as safe.
	ExitIncomplete = 1
	// ExitUsage: bad flags or input (no dumps, unknown function); no answer.
	ExitUsage = 2
	// ExitOutput: the answer could not be written (stdout closed, disk
	// full): whatever was read of it is cut short.
	ExitOutput = 3
)

const exitCodesHelp = `Exit status:
  0  the answer is complete
  1  an answer was printed but evidence was missing or unreadable
     (malformed dump lines, unreadable files): it may be short, never safe
  2  usage or input error: bad flags, no dumps found, unknown function
  3  the answer could not be written (stdout closed, disk full): what was
     written is cut short`

// rootExitHelp is the exit status of every command, check's and diff's
// included, for the root help.
const rootExitHelp = `Exit status:
  0  the answer is complete
  1  an answer was printed but evidence was missing or unreadable
     (malformed dump lines, unreadable files): it may be short, never safe;
     for check also: the livepatch misses a target, or the fix changes data;
     for diff --exit-code: a function changed, was added or was removed
  2  usage or input error: bad flags, no dumps found, unknown function,
     an unreadable diff or livepatch, a diff that does not apply to the
     build's sources
  3  the answer could not be written (stdout closed, disk full): what was
     written is cut short`

// errIncomplete is returned by a command that printed its answer but read
// incomplete evidence; the problems were already reported.
var errIncomplete = errors.New("evidence incomplete")

// exitCode maps an error returned by a command to the exit status.
func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errIncomplete):
		return ExitIncomplete
	}
	return ExitUsage
}

// outWriter remembers the first error writing the answer, so a failed
// write is told apart from a usage error whatever the command returned.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}
