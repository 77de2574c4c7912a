package object

import "strconv"

// String names the kind as the constants do: "Call", "TailCall",
// "AddrRef", "DataRef".
func (k RefKind) String() string {
	switch k {
	case Call:
		return "Call"
	case TailCall:
		return "TailCall"
	case AddrRef:
		return "AddrRef"
	case DataRef:
		return "DataRef"
	}
	return "RefKind(" + strconv.Itoa(int(k)) + ")"
}
