#!/usr/bin/env bash
# kernel-fixture.sh: build the real-kernel test input that klp-audit's
# integration tests and benchmarks read (README: Real kernel data).
#
# Installs Debian's linux-source-6.1, configures it with Debian's amd64
# config and builds kernel/ and mm/ with -fdump-ipa-clones into a cache
# outside the repository. Re-running reuses the cache: a finished build is
# marked by $CACHE/linux-6.1/.klp-audit-done.
#
#   KLP_AUDIT_CACHE   cache root (default: $HOME/.cache/klp-audit)
#   KLP_AUDIT_JOBS    make -j value (default: nproc)
#   DIRS              more directories to build, on request only, in a tree
#                     of their own ($CACHE/linux-6.1-full) so the tests'
#                     tree stays kernel/ and mm/: e.g.
#                     DIRS="lib block fs net security arch/x86" (the
#                     whole-kernel benchmarks' tree)
set -euo pipefail

CACHE=${KLP_AUDIT_CACHE:-$HOME/.cache/klp-audit}
JOBS=${KLP_AUDIT_JOBS:-$(nproc)}
TREE=$CACHE/linux-6.1
BUILD="kernel mm"
if [[ -n ${DIRS:-} ]]; then
	TREE=$CACHE/linux-6.1-full
	BUILD="kernel mm $DIRS"
fi
DONE=$TREE/.klp-audit-done

if [[ -f $DONE ]]; then
	echo "kernel-fixture: cached at $TREE"
	exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi

need=()
for p in linux-source-6.1 linux-config-6.1 bc flex bison libelf-dev libssl-dev xz-utils make gcc; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
	echo "kernel-fixture: installing ${need[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

mkdir -p "$CACHE"
if [[ ! -f $TREE/Makefile ]]; then
	src=$(ls /usr/src/linux-source-6.1.tar.xz)
	rm -rf "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	echo "kernel-fixture: unpacking $src"
	tar -xf "$src" -C "$TREE.tmp" --strip-components=1
	mv "$TREE.tmp" "$TREE"
fi

cd "$TREE"
if [[ ! -f .config ]]; then
	xz -dc /usr/src/linux-config-6.1/config.amd64_none_amd64.xz >.config
	# Debian signs modules with a key that is not in the source package.
	scripts/config --set-str SYSTEM_TRUSTED_KEYS '' --set-str SYSTEM_REVOCATION_KEYS '' \
		--disable MODULE_SIG_ALL --set-str MODULE_SIG_KEY ''
	# BTF needs pahole, which this build does not use.
	scripts/config --disable DEBUG_INFO_BTF
	make -s olddefconfig
fi
make -s -j"$JOBS" prepare
targets=()
for d in $BUILD; do targets+=("$d/"); done
echo "kernel-fixture: building ${targets[*]} with -fdump-ipa-clones (-j$JOBS)"
if [[ -n ${DIRS:-} ]]; then
	# Objects a directory cannot build in this configuration leave the
	# rest built (kbuild's -k).
	make -s -k -j"$JOBS" KCFLAGS=-fdump-ipa-clones "${targets[@]}" || echo "kernel-fixture: some objects failed to build"
else
	make -s -j"$JOBS" KCFLAGS=-fdump-ipa-clones "${targets[@]}"
fi
n=$(find $BUILD -name '*.ipa-clones' | wc -l)
echo "kernel-fixture: $n dumps"
touch "$DONE"
