// Package index is the file format of klp-audit's persistent index of a
// build (klp-audit index): one file per build, kept outside the tree,
// read through a read-only memory mapping.
//
// # Layout
//
// A 48-byte header: the magic "KLPAIDX\x00", the layout version (6), a
// reserved word, the file's size, the offset, length and CRC-32C of the
// table of contents, and the CRC-32C of the header's first 44 bytes. Then
// blobs, each located by a Ref (offset, length, CRC-32C), and last the
// table of contents (TOC). Integers in blobs are varints (Enc, Dec);
// strings are interned per blob: a blob starts with its string table and
// refers to strings by number.
//
// Open refuses (ErrCorrupt, ErrVersion, as a *FormatError naming the
// offset) a file with another magic or version, a header or table of
// contents whose checksum does not match, or a size other than the one
// the header gives (a truncated file). Each blob is checked against its
// checksum when read (File.Blob): a damaged blob is refused alone, and a
// caller reads that evidence from the build instead. Nothing is trusted
// unchecked.
//
// Writer writes to a temporary file in the destination's directory and
// renames it over the destination once synced, so readers see a whole
// old or a whole new index, and concurrent writers leave one whole file.
//
// # Contents
//
// The TOC holds what discovery of the build found (dumps, objects,
// symbolic links not followed, every directory with its mtime and the
// names of its .mod files, the objects without a dump read from DWARF)
// and, for every dump and object,
// its path, size and mtime (Stat) and the Ref of its evidence: a dump's
// records (EncodeDump: the containment graph of its unit, as the
// dump reader gives them) and the graph those records make alone
// (EncodeDump: nodes, edges and each node's edges in order, which a
// query adds for a unit of one dump without rebuilding it; its strings
// are those of the records' blob), an object's image (EncodeImage: function
// symbols with binding, section, size, ftrace entry, aliases and cold
// pieces; the object call graph) and compile units (EncodeUnits: the
// DW_AT_producer strings the compile flags are read from), and what
// kbuild's lists say of the object (Link: the module linking it, or why
// no livepatch reaches it), which holds while the object and every
// kbuild list of the build (Kbuild: .mod files, built-in.a and lib.a
// archives, each with its Stat) are unchanged. The name index
// (Name, in buckets by a hash of the name) says, for every function name,
// the dumps that name it, the objects that define it, and the calls to it
// from objects that do not define it: the cross-object callers of a
// global function; and the references taking its address from objects
// that do not define it.
//
// The package knows the format only: which entries are fresh, and what a
// query does with them, is internal/driver's.
package index
