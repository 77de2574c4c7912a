// Package livepatch holds what klp-audit knows of kernel livepatches
// themselves, apart from the compiler's decisions:
//
//   - old_sympos: a klp_func's position among the same-named symbols of
//     its klp_object, counted in kallsyms order in the linked vmlinux or
//     module .ko (sympos.go);
//   - the klp_object of a build's unit: vmlinux, or the module whose
//     kbuild .mod file lists the object (klpobject.go);
//   - the klp_func and klp_object arrays of a livepatch module's C source
//     (csource.go), read through gcc -E with the flags of a kbuild .cmd
//     file when the source is not plain C (preprocess.go), and the YAML
//     funcs list check takes instead (source.go);
//   - the kernel's rule resolving a klp_func to a symbol (resolve.go);
//   - the C skeleton of those arrays for a set of targets (skeleton.go).
package livepatch
