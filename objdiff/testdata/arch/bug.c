/*
 * Cross-architecture fixture: WARN_ON records its line in __bug_table
 * as the kernel's does with CONFIG_GENERIC_BUG_RELATIVE_POINTERS and
 * CONFIG_DEBUG_BUGVERBOSE (struct bug_entry { .long 1b - .; .long
 * __FILE__ - .; .short __LINE__; .short flags }, 12 bytes), after the
 * architecture's trap instruction. cross_fixtures_test.go compiles it, and a copy
 * with three lines inserted above warn_big, for every cross compiler
 * present: warn_big is line-shift only, its __bug_table line read in the
 * object's byte order (big-endian on ppc64 ELFv2 and s390x).
 */
#if defined(__x86_64__)
#define TRAP "ud2"
#elif defined(__aarch64__)
#define TRAP "brk 0x800"
#elif defined(__powerpc64__)
#define TRAP "twi 31, 0, 0"
#elif defined(__s390x__)
#define TRAP "mc 0, 0"
#elif defined(__loongarch__)
#define TRAP "break 1"
#endif

#define WARN_ON(cond) ({						\
	int __c = !!(cond);						\
	if (__c)							\
		asm volatile("1:\t" TRAP "\n"				\
			".pushsection __bug_table,\"aw\"\n"		\
			"2:\t.long 1b - .\n"				\
			"\t.long %c0 - .\n"				\
			"\t.short %c1\n"				\
			"\t.short %c2\n"				\
			"\t.org 2b+%c3\n"				\
			".popsection" : : "i" (__FILE__), "i" (__LINE__), \
			"i" (1), "i" (12));				\
	__c; })

int warn_big(int x)
{
	WARN_ON(x > 1000);
	return x * 2;
}
