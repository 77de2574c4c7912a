package patch

// Apply returns src (the original file's lines, index 0 is line 1) with
// f's hunks applied as patch(1) applies them: each hunk located by its
// context (Locate, no fuzz), at an offset from its header's position when
// the file moved, and the fixed file written as patch writes it
// (ApplyAt). A hunk that does not apply is an *ApplyError naming the file,
// the hunk and the closest place it almost matched.
func Apply(src []string, f File) ([]string, error) {
	locs, err := Locate(src, f, 0)
	if err != nil {
		return nil, err
	}
	return ApplyAt(src, f, locs)
}
