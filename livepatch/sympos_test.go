package livepatch

import (
	"debug/elf"
	"strconv"
	"strings"
	"testing"
)

// TestKallsymsOrder: vmlinux's kallsyms are in address order, strong
// before weak at one address, and leave out what scripts/kallsyms drops.
func TestKallsymsOrder(t *testing.T) {
	lf := &LinkedFile{ef: &elf.File{Sections: []*elf.Section{
		{SectionHeader: elf.SectionHeader{Name: ""}},
		{SectionHeader: elf.SectionHeader{Name: ".text", Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR}},
		{SectionHeader: elf.SectionHeader{Name: ".comment"}},
	}}}
	fn := func(name string, bind elf.SymBind, v uint64, sec elf.SectionIndex) elf.Symbol {
		return elf.Symbol{Name: name, Info: elf.ST_INFO(bind, elf.STT_FUNC), Section: sec, Value: v}
	}
	lf.readVmlinuxSyms([]elf.Symbol{
		fn("foo", elf.STB_LOCAL, 0x300, 1),
		fn("foo", elf.STB_WEAK, 0x100, 1),
		fn("foo", elf.STB_GLOBAL, 0x100, 1),
		fn("foo", elf.STB_LOCAL, 0x200, 1),
		fn("foo", elf.STB_LOCAL, 0, elf.SHN_UNDEF),
		fn("foo", elf.STB_LOCAL, 0x50, elf.SHN_ABS),
		fn("foo", elf.STB_LOCAL, 0x60, 2),
		fn("kallsyms_names", elf.STB_GLOBAL, 0x10, 1),
		fn("__kcfi_typeid_foo", elf.STB_GLOBAL, 0x10, 1),
		{Name: "foo.c", Info: elf.ST_INFO(elf.STB_LOCAL, elf.STT_FILE), Section: elf.SHN_ABS},
	})
	var got []string
	for _, s := range lf.syms {
		got = append(got, s.name+"@"+strconv.FormatUint(s.value, 16)+"/"+s.bind.String())
	}
	want := "foo@100/STB_GLOBAL foo@100/STB_WEAK foo@200/STB_LOCAL foo@300/STB_LOCAL"
	if strings.Join(got, " ") != want {
		t.Errorf("kallsyms order\n got %v\nwant %s", got, want)
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 101: "101st", 111: "111th"} {
		if got := Ordinal(n); got != want {
			t.Errorf("Ordinal(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestUnitMatches(t *testing.T) {
	tests := []struct {
		name  string
		units []string
		want  bool
	}{
		{"mm/oom_kill.c", []string{"mm/oom_kill.c"}, true},
		{"/home/k/linux/mm/oom_kill.c", []string{"mm/oom_kill.c"}, true},
		{"mm/oom_kill.c", []string{"/home/k/linux/mm/oom_kill.c"}, true},
		{"mm/kill.c", []string{"mm/oom_kill.c"}, false},
		{"a.c", []string{"b.c"}, false},
	}
	for _, tt := range tests {
		if got := unitMatches(tt.name, tt.units); got != tt.want {
			t.Errorf("unitMatches(%q, %q) = %v, want %v", tt.name, tt.units, got, tt.want)
		}
	}
}

// TestSameCode: bytes differing only in a relocated field are the same
// code; a different opcode or size is not.
func TestSameCode(t *testing.T) {
	code := []byte{0xe8, 0, 0, 0, 0, 0xc3}
	mask := []bool{false, true, true, true, true, false}
	if !sameCode(code, mask, []byte{0xe8, 1, 2, 3, 4, 0xc3}) {
		t.Error("bytes differing only in the relocated field do not match")
	}
	if sameCode(code, mask, []byte{0xe9, 1, 2, 3, 4, 0xc3}) || sameCode(code, mask, code[:5]) {
		t.Error("different opcode or size matches")
	}
}
