// Package kbuild rebuilds single kernel translation units exactly as
// kbuild built them, outside the tree, to compare an original and a
// patched build of the units a fix touches.
//
// kbuild records every object's command in DIR/.NAME.o.cmd: the first
// line "cmd_mm/oom_kill.o := gcc ... -c -o mm/oom_kill.o mm/oom_kill.c ;
// ./tools/objtool/objtool ... mm/oom_kill.o" (savedcmd_ since Linux 6.3),
// then "source_mm/oom_kill.o := mm/oom_kill.c" and the dependency list
// "deps_mm/oom_kill.o := \ include/linux/... \". ParseCmd reads one;
// Index finds the units compiled from a file or including it.
//
// Rebuild runs the compiler part of the command (up to the first ";")
// again, never through a shell: the words are unquoted here, and a word
// holding a shell construct (an expansion, a pipe, a redirection) is an
// error, so a hostile .cmd file runs nothing but a compiler on its own
// arguments. It runs from a scratch shadow of the tree (see Shadow):
// symbolic links to every entry of the tree, except the directories on
// the way to a replaced file, which are real directories of links, and
// the replaced files themselves. Relative paths in the command, the
// source name, #include "..." next to the source, __FILE__ and the
// ipa-clones dump's paths therefore read exactly as in the tree; the
// DWARF compilation directory is mapped back to the tree with
// -fdebug-prefix-map. The -Wp,-MMD,... dependency file is not written and
// the output goes to a scratch directory: nothing in the tree is written.
//
// The rebuilt object is the compiler's output: objtool's later edits of
// the tree's copy (a jump-label jmp turned into a nop, .static_call_sites)
// are not in it. Faithful proves a rebuilt original matches the tree's
// object by running the recorded objtool step on a scratch copy.
package kbuild
