/*
 * Cross-architecture fixture: a function-local read-only static holding
 * the address of a function-local static of the same function (as a
 * kernel driver's const ops or lock class tables do). Compiled twice by
 * cross_fixtures_test.go: as is, and with -DPATCHED, which adds a
 * function with a static of the same name below user. GCC 12 numbers
 * function-local statics downwards in file order (the last is .0), so
 * both of user's statics are renamed, and p's contents (its relocation)
 * name the renamed counter.
 * user must stay unchanged: the pointer inside p counts by the
 * correlation, not by its raw name.
 */
extern void report_ptr(const void *p);

int user(int x)
{
	static int counter;
	static const int *const p = &counter;
	counter += x;
	report_ptr(&p);
	return counter;
}

#ifdef PATCHED
int added(int x)
{
	static int counter;
	counter += x;
	return counter;
}
#endif
