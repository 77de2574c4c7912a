/* The externals calls.c needs to link (see calls.c). */
int ext_var;

int printk(const char *fmt, ...)
{
	return fmt[0];
}

void ext_func(int x)
{
	ext_var = x;
}
