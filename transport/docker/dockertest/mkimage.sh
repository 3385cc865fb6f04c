#!/bin/sh
# Builds a small local Docker image for execkit's tests from this machine's
# own Debian packages (no registry is needed): bash, dash as sh, coreutils,
# grep, sed, findutils and git, with the shared libraries they load, packed
# by tar and loaded with `docker import`.
#
# With BINARY, it is installed as /usr/local/bin/execkit (with the
# execkit-core next to it) and is the image's entry point (`make image`:
# execkit's own container image).
#
# usage: mkimage.sh TAG [BINARY]
set -eu
tag=${1:?usage: mkimage.sh TAG [BINARY]}
bin=${2:-}
list=$(mktemp)
trap 'rm -f "$list" "$list.elf"' EXIT
pkgs="bash dash coreutils grep sed findutils git"
for p in $pkgs; do
	dpkg -L "$p" >/dev/null 2>&1 || { echo "mkimage: package $p is not installed here" >&2; exit 1; }
done
# Files and symbolic links of the packages (directories come from --parents
# style paths in tar below; man pages and docs are left out).
for p in $pkgs; do dpkg -L "$p"; done | grep -v -e '^/usr/share/man' -e '^/usr/share/doc' -e '^/usr/share/locale' -e '^/usr/share/info' |
	while IFS= read -r f; do [ -f "$f" ] || [ -L "$f" ] && printf '%s\n' "$f"; done >"$list.elf"
cp "$list.elf" "$list"
# The shared libraries every executable needs, and what symbolic links point to.
while IFS= read -r f; do
	[ -x "$f" ] && [ -f "$f" ] || continue
	ldd "$f" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
done <"$list.elf" | sort -u >>"$list"
while IFS= read -r f; do [ -L "$f" ] && readlink -f "$f"; done <"$list" >>"$list.elf"
cat "$list.elf" >>"$list"
# On a merged /usr, /bin, /lib and /lib64 are links into /usr: name every
# file by its real directory so that each is packed once, then add the links.
while IFS= read -r f; do
	printf '%s/%s\n' "$(readlink -f "$(dirname "$f")")" "$(basename "$f")"
done <"$list" | sort -u >"$list.elf"
for l in /bin /sbin /lib /lib64; do [ -L "$l" ] && echo "$l" >>"$list.elf"; done
root=$(mktemp -d)
trap 'rm -rf "$root"; rm -f "$list" "$list.elf"' EXIT
sed 's#^/##' "$list.elf" | tar -C / --no-recursion -cf - -T - | tar -C "$root" -xf -
mkdir -p "$root/tmp" "$root/root" "$root/etc" "$root/proc" "$root/dev" "$root/work"
chmod 1777 "$root/tmp"
[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
if [ -n "$bin" ]; then
	mkdir -p "$root/usr/local/bin"
	cp "$bin" "$root/usr/local/bin/execkit"
	chmod 755 "$root/usr/local/bin/execkit"
	# execkit-core, which execkit starts, when it is next to BINARY.
	if [ -f "$(dirname "$bin")/execkit-core" ]; then
		cp "$(dirname "$bin")/execkit-core" "$root/usr/local/bin/execkit-core"
		chmod 755 "$root/usr/local/bin/execkit-core"
	fi
	tar -C "$root" -cf - . | docker import -c 'ENTRYPOINT ["/usr/local/bin/execkit"]' -c 'CMD ["mcp"]' \
		-c 'WORKDIR /work' -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$tag" >/dev/null
else
	tar -C "$root" -cf - . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$tag" >/dev/null
fi
echo "$tag"
