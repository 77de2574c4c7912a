/*
 * Cross-architecture fixture: compiled at test time by every cross
 * compiler present (aarch64, powerpc64le, s390x, loongarch64), with the
 * flags of that architecture's kernel builds (see arch_test.go). It has
 * a call between two local functions in one section, a string literal
 * that patched.c changes (in greet only), an external call, a global
 * variable and a function pointer.
 */
extern int printk(const char *fmt, ...);
extern void ext_func(int);
extern int ext_var;

static int counter;

static __attribute__((noinline)) int helper(int x)
{
	counter += x;
	return x * 3 + counter + ext_var;
}

int caller(int x)
{
	return helper(x) + helper(x + 1) + 1;
}

void greet(void)
{
	printk("hello, world\n");
}

void other(void)
{
	printk("unchanged %d\n", counter);
	ext_func(2);
}

void (*hook)(void) = greet;
