/*
 * klp-audit klp-skeleton --func scale: the functions a livepatch fixing
 * scale must replace, as klp_func entries per klp_object (see
 * samples/livepatch/livepatch-sample.c). Define each livepatch_* function
 * above these arrays, with the prototype of the function it replaces.
 * Policy: default policy.
 */

static struct klp_func funcs_vmlinux[] = {
	{
		/* must, containment: the changed function itself [a.o] */
		.old_name = "scale",
		.new_func = livepatch_scale__a,
		.old_sympos = 1,
	},
	{
		/* must, containment: the changed function itself [b.o] */
		.old_name = "scale",
		.new_func = livepatch_scale__b,
		.old_sympos = 2,
	},
	/*
	 * CONDITIONAL, caller-assumptions: a_entry calls scale (callers may rely on its body) [a.o]
	 * needed only if your fix changes what a_entry assumed of scale, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), whether it is pure, const or noreturn (ipa-pure-const), the memory it reads and writes (ipa-modref), the static variables it reads and writes (ipa-reference); if so, ask about a_entry in turn (its callers may rely on it).
	 * If it is needed, add:
	 * {
	 *	.old_name = "a_entry",
	 *	.new_func = livepatch_a_entry,
	 * },
	 */
	/*
	 * CONDITIONAL, caller-assumptions: b_entry calls scale (callers may rely on its body) [b.o]
	 * needed only if your fix changes what b_entry assumed of scale, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), whether it is pure, const or noreturn (ipa-pure-const), the memory it reads and writes (ipa-modref), the static variables it reads and writes (ipa-reference); if so, ask about b_entry in turn (its callers may rely on it).
	 * If it is needed, add:
	 * {
	 *	.old_name = "b_entry",
	 *	.new_func = livepatch_b_entry,
	 * },
	 */
	/*
	 * CONDITIONAL, caller-assumptions: b_other calls scale (callers may rely on its body) [b.o]
	 * needed only if your fix changes what b_other assumed of scale, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), whether it is pure, const or noreturn (ipa-pure-const), the memory it reads and writes (ipa-modref), the static variables it reads and writes (ipa-reference); if so, ask about b_other in turn (its callers may rely on it).
	 * If it is needed, add:
	 * {
	 *	.old_name = "b_other",
	 *	.new_func = livepatch_b_other,
	 * },
	 */
	{ }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		/* REVIEW: the build is not a kernel tree, so the klp_object is unknown: vmlinux assumed */
		.name = NULL,
		.funcs = funcs_vmlinux,
	}, { }
};
