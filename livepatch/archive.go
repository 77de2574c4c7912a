package livepatch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// maxArchive caps the archive read for its member names: kbuild's thin
// archives (built-in.a, lib.a) hold only names, a few hundred KB for the
// largest directory; a full archive's member contents are skipped, never
// held.
const maxArchive = 1 << 32

// maxNameTable caps an archive's long-name table ("//"), the one part
// held in memory.
const maxNameTable = 64 << 20

// ArchiveMembers returns the member names of the ar archive at p, as they
// are stored: a thin archive (kbuild's ar cDPrST) names each object by
// its path relative to the archive's own directory, which "ar t" prints
// joined to the archive's path. Both GNU
// formats are read ("!<arch>" and "!<thin>"), long names through the "//"
// table. A malformed archive is an error naming the file and the byte
// offset of the bad header.
func ArchiveMembers(p string) ([]string, error) {
	f, err := safeio.OpenLimit(p, maxArchive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := archiveMembers(bufio.NewReaderSize(f.Reader(), 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return names, nil
}

// archiveMembers parses the archive read from r.
func archiveMembers(r *bufio.Reader) ([]string, error) {
	const hdrLen = 60
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, fmt.Errorf("not an ar archive (no !<arch> or !<thin> header)")
	}
	var thin bool
	switch string(magic) {
	case "!<arch>\n":
	case "!<thin>\n":
		thin = true
	default:
		return nil, fmt.Errorf("not an ar archive (no !<arch> or !<thin> header)")
	}
	var names []string
	var long []byte
	h := make([]byte, hdrLen)
	for off := int64(8); ; {
		c, err := r.ReadByte()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if c == '\n' { // padding to an even offset
			off++
			continue
		}
		h[0] = c
		if _, err := io.ReadFull(r, h[1:]); err != nil {
			return nil, fmt.Errorf("offset %d: truncated member header", off)
		}
		if h[58] != '`' || h[59] != '\n' {
			return nil, fmt.Errorf("offset %d: bad member header (no `\\n terminator)", off)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("offset %d: bad member size %q", off, strings.TrimSpace(string(h[48:58])))
		}
		name := strings.TrimRight(string(h[:16]), " ")
		// The symbol table and the long-name table are stored in thin
		// archives too; other members' contents only in full ones.
		special := name == "/" || name == "//" || name == "/SYM64/"
		switch {
		case name == "//":
			if size > maxNameTable {
				return nil, fmt.Errorf("offset %d: a name table of %d bytes (at most %d are read)", off, size, maxNameTable)
			}
			long = make([]byte, size)
			if _, err := io.ReadFull(r, long); err != nil {
				return nil, fmt.Errorf("offset %d: name table of %d bytes runs past the end", off, size)
			}
		case special:
		case strings.HasPrefix(name, "/"):
			i, err := strconv.Atoi(name[1:])
			if err != nil || i < 0 || i >= len(long) {
				return nil, fmt.Errorf("offset %d: long name %q not in the name table", off, name)
			}
			end := bytes.Index(long[i:], []byte("/\n"))
			if end < 0 {
				return nil, fmt.Errorf("offset %d: long name %q not terminated in the name table", off, name)
			}
			names = append(names, path.Clean(string(long[i:i+end])))
		default:
			names = append(names, path.Clean(strings.TrimSuffix(name, "/")))
		}
		off += hdrLen
		if name != "//" && (special || !thin) {
			if n, err := r.Discard(int(min(size, math.MaxInt32))); int64(n) != size || err != nil {
				return nil, fmt.Errorf("offset %d: member %q of %d bytes runs past the end", off-hdrLen, name, size)
			}
		}
		if special || !thin {
			off += size
		}
	}
}
