/*
 * Call graph fixture of every livepatch architecture: compiled at test
 * time by each cross compiler present, with that architecture's kernel
 * flags (see crossTargets in arch_test.go), and linked with stubs.c into
 * an executable whose calls carry no relocations.
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

static __attribute__((noinline)) int far_helper(int x);

int caller(int x)
{
	return helper(x) + far_helper(x + 1) + 1;
}

void greet(void)
{
	printk("hello\n");
}

void other(void)
{
	printk("unchanged %d\n", counter);
	ext_func(2);
}

/* Defined after its caller: a forward branch, helper a backward one. */
static __attribute__((noinline)) int far_helper(int x)
{
	return helper(x ^ 5) * 7;
}

void (*hook)(void) = greet;
