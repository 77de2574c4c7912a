package index

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Enc appends values to a blob: unsigned and signed varints, and strings
// as their length and bytes.
type Enc struct{ B []byte }

// U appends an unsigned varint.
func (e *Enc) U(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// I appends a signed varint.
func (e *Enc) I(v int64) { e.B = binary.AppendVarint(e.B, v) }

// Bool appends a bool as 0 or 1.
func (e *Enc) Bool(v bool) {
	if v {
		e.U(1)
	} else {
		e.U(0)
	}
}

// S appends a string.
func (e *Enc) S(s string) {
	e.U(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Ref appends a blob reference.
func (e *Enc) Ref(r Ref) {
	e.U(r.Off)
	e.U(r.Len)
	e.U(uint64(r.CRC))
}

// errShort is a Dec's sticky error.
var errShort = errors.New("blob ends early or holds a bad value")

// Dec reads what Enc wrote. Its error is sticky: after a bad value every
// read returns zero, and Err says what went wrong (checked once at the
// end, like debug/dwarf's buffer).
type Dec struct {
	B   []byte
	Off int
	err error
	// all, when set, is B as a string: S returns substrings of it, one
	// copy of the blob for all its strings instead of one a string.
	all string
}

// Err returns the first error met, wrapped in ErrCorrupt.
func (d *Dec) Err() error {
	if d.err == nil {
		return nil
	}
	return fmt.Errorf("%w: at byte %d of a blob: %v", ErrCorrupt, d.Off, d.err)
}

func (d *Dec) fail() {
	if d.err == nil {
		d.err = errShort
	}
}

// U reads an unsigned varint.
func (d *Dec) U() uint64 {
	if d.err != nil {
		return 0
	}
	if d.Off < len(d.B) && d.B[d.Off] < 0x80 {
		// One byte: most counts, indexes and string numbers.
		v := d.B[d.Off]
		d.Off++
		return uint64(v)
	}
	v, n := binary.Uvarint(d.B[d.Off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.Off += n
	return v
}

// N reads an unsigned varint that counts or indexes something in a blob
// of max bytes or items: larger is an error, so a corrupt count never
// sizes an allocation.
func (d *Dec) N(max int) int {
	v := d.U()
	if v > uint64(max) {
		d.fail()
		return 0
	}
	return int(v)
}

// I reads a signed varint.
func (d *Dec) I() int64 {
	if d.err != nil {
		return 0
	}
	if d.Off < len(d.B) && d.B[d.Off] < 0x80 {
		// One byte: a small line, column or delta (zig-zag encoded).
		u := d.B[d.Off]
		d.Off++
		return int64(u>>1) ^ -int64(u&1)
	}
	v, n := binary.Varint(d.B[d.Off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.Off += n
	return v
}

// Bool reads a bool.
func (d *Dec) Bool() bool { return d.U() != 0 }

// Bytes reads a string's bytes, sharing the blob. The length is checked
// against what is left after it: a blob sliced from a larger buffer is
// never read past its end.
func (d *Dec) Bytes() []byte {
	v := d.U()
	if d.err != nil {
		return nil
	}
	if v > uint64(len(d.B)-d.Off) {
		d.fail()
		return nil
	}
	n := int(v)
	b := d.B[d.Off : d.Off+n : d.Off+n]
	d.Off += n
	return b
}

// S reads a string (a copy, or a part of the copy of the whole blob).
func (d *Dec) S() string {
	b := d.Bytes()
	if d.all != "" && len(b) > 0 {
		return d.all[d.Off-len(b) : d.Off]
	}
	return string(b)
}

// Ref reads a blob reference.
func (d *Dec) Ref() Ref {
	return Ref{Off: d.U(), Len: d.U(), CRC: uint32(d.N(1<<32 - 1))}
}

// Left returns how many bytes are left.
func (d *Dec) Left() int { return len(d.B) - d.Off }
