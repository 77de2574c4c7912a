/*
 * klp-audit klp-skeleton --func big: the functions a livepatch fixing
 * big must replace, as klp_func entries per klp_object (see
 * samples/livepatch/livepatch-sample.c). Define each livepatch_* function
 * above these arrays, with the prototype of the function it replaces.
 * Policy: clone-abi.yaml.
 */

static struct klp_func funcs_vmlinux[] = {
	{
		/* must, containment: big -constprop-> big.constprop.0; a constprop clone: replace it with a function of the clone's own ABI [b.o, b.c:8] */
		/* livepatch_big_constprop_0 must have the ABI of the constprop clone big.constprop.0 (its parameters, not big's prototype): the policy says author-supplies-clone-abi */
		.old_name = "big.constprop.0",
		.new_func = livepatch_big_constprop_0,
		.old_sympos = 0,
	},
	{
		/* must, caller-assumptions: big.constprop.0 -called by-> b_entry; callers may rely on its body through ipa-ra, ipa-pure-const, ipa-modref, ipa-reference [b.o] */
		.old_name = "b_entry",
		.new_func = livepatch_b_entry,
	},
	{
		/* must, caller-assumptions: big.constprop.0 -called by-> b_other; callers may rely on its body through ipa-ra, ipa-pure-const, ipa-modref, ipa-reference [b.o] */
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
