package driver

import "fmt"

// InputError is an input a verb cannot answer for: no dumps, an unknown
// function, an unreadable diff or livepatch. Nothing was answered; the
// command prints it as it is, without usage, and exits 2.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Inputf returns an *InputError with a formatted message.
func Inputf(format string, a ...any) error {
	return &InputError{fmt.Sprintf(format, a...)}
}

// inputErr turns a reader's error into an *InputError, keeping its text.
func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return &InputError{err.Error()}
}
