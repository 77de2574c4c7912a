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
		/* must, caller-assumptions: scale -called by-> a_entry; callers may rely on its body through ipa-ra, ipa-pure-const, ipa-modref, ipa-reference [a.o] */
		.old_name = "a_entry",
		.new_func = livepatch_a_entry,
	},
	{
		/* must, containment: the changed function itself [b.o] */
		.old_name = "scale",
		.new_func = livepatch_scale__b,
		.old_sympos = 2,
	},
	{
		/* must, caller-assumptions: scale -called by-> b_entry; callers may rely on its body through ipa-ra, ipa-pure-const, ipa-modref, ipa-reference [b.o] */
		.old_name = "b_entry",
		.new_func = livepatch_b_entry,
	},
	{
		/* must, caller-assumptions: scale -called by-> b_other; callers may rely on its body through ipa-ra, ipa-pure-const, ipa-modref, ipa-reference [b.o] */
		.old_name = "b_other",
		.new_func = livepatch_b_other,
	},
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
