package safeio

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// Compressed ELF sections (SHF_COMPRESSED with zlib or zstd, or the older
// GNU .zdebug_ form) declare the size they expand to, and debug/elf
// decompresses them in full. A few hundred KiB of zstd can claim and hold
// 16 GiB. The sections of one file may together expand to at most
// DecompressFactor times the file's size, and never less than
// MinDecompressed: real DWARF compresses 3 to 10 times.
const (
	DecompressFactor = 64
	MinDecompressed  = 64 << 20
)

// DecompressedLimit is how many bytes the compressed sections of a file of
// fileSize bytes may expand to.
func DecompressedLimit(fileSize int64) int64 {
	if fileSize > (1<<62)/DecompressFactor {
		return 1 << 62
	}
	return max(DecompressFactor*fileSize, MinDecompressed)
}

// CheckCompressed returns an error naming path when the compressed
// sections of ef declare more decompressed bytes, together, than
// DecompressedLimit(fileSize). Call it before anything decompresses (DWARF,
// Section.Data or Section.Open of a compressed section).
func CheckCompressed(ef *elf.File, path string, fileSize int64) error {
	limit := DecompressedLimit(fileSize)
	var total uint64
	for _, s := range ef.Sections {
		size, ok := decompressedSize(s)
		if !ok {
			continue
		}
		if size > uint64(limit) || total+size > uint64(limit) {
			return fmt.Errorf("%s: section %s: compressed sections expand to more than %s (%d times the file's %s): refusing to decompress them (%w)",
				path, s.Name, human(limit), DecompressFactor, human(fileSize), ErrTooLarge)
		}
		total += size
	}
	return nil
}

// decompressedSize returns the size s declares it expands to, if s is
// compressed.
func decompressedSize(s *elf.Section) (uint64, bool) {
	if s.Type == elf.SHT_NOBITS {
		return 0, false
	}
	if s.Flags&elf.SHF_COMPRESSED != 0 {
		return s.Size, true // debug/elf set it from the Chdr
	}
	if !strings.HasPrefix(s.Name, ".zdebug") || s.ReaderAt == nil {
		return 0, false
	}
	var h [12]byte
	if n, _ := s.ReadAt(h[:], 0); n != len(h) || string(h[:4]) != "ZLIB" {
		return 0, false
	}
	return binary.BigEndian.Uint64(h[4:]), true
}
