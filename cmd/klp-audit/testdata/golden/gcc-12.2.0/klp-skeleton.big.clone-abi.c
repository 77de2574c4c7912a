/*
 * klp-audit klp-skeleton --func big: the functions a livepatch fixing
 * big must replace, as klp_func entries per klp_object (see
 * samples/livepatch/livepatch-sample.c). Define each livepatch_* function
 * above these arrays, with the prototype of the function it replaces.
 * Policy: clone-abi.yaml.
 */

static struct klp_func funcs_vmlinux[] = {
	{
		/* must, containment: big.constprop.0 is the constprop clone of big (specialised for constant arguments); a constprop clone: replace it with a function of the clone's own ABI [b.o, b.c:8] */
		/* livepatch_big_constprop_0 must have the ABI of the constprop clone big.constprop.0 (its parameters, not big's prototype): the policy says author-supplies-clone-abi */
		.old_name = "big.constprop.0",
		.new_func = livepatch_big_constprop_0,
		.old_sympos = 0,
	},
	/*
	 * CONDITIONAL, caller-assumptions: b_entry calls big.constprop.0 (callers may rely on its body) [b.o]
	 * needed only if your fix changes what b_entry assumed of big.constprop.0, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), whether it is pure, const or noreturn (ipa-pure-const), the memory it reads and writes (ipa-modref), the static variables it reads and writes (ipa-reference); if so, ask about b_entry in turn (its callers may rely on it).
	 * If it is needed, add:
	 * {
	 *	.old_name = "b_entry",
	 *	.new_func = livepatch_b_entry,
	 * },
	 */
	/*
	 * CONDITIONAL, caller-assumptions: b_other calls big.constprop.0 (callers may rely on its body) [b.o]
	 * needed only if your fix changes what b_other assumed of big.constprop.0, which it calls at 1 call site: the call-clobbered registers it leaves alone (ipa-ra), whether it is pure, const or noreturn (ipa-pure-const), the memory it reads and writes (ipa-modref), the static variables it reads and writes (ipa-reference); if so, ask about b_other in turn (its callers may rely on it).
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
