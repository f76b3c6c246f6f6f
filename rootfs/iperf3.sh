#!/bin/bash
# rootfs/iperf3.sh [OUTDIR]: iperf3 from Debian for the network benchmark, as
# two artefacts in OUTDIR (default build/guest, relative to the repo root):
#   iperf3.cpio.gz  an initramfs add-on (newc + gzip) with /bin/iperf3, the
#                   shared libraries it needs and the dynamic loader; appended
#                   to initramfs.cpio.gz for the benchmark only, so the default
#                   guest image stays small (libcrypto alone is 4.6 MB)
#   iperf3/         the same files for the host side: iperf3/run ARGS... runs
#                   that iperf3 through its own loader and libraries, so the
#                   host needs no package installed (the lab runs the host's
#                   files, whatever is installed there)
# The libraries are found by walking DT_NEEDED (readelf) through the unpacked
# packages; a library missing from them fails the build. Cached like
# rootfs/build.sh: rebuilt only when the package versions or this script change.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-build/guest}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
# shellcheck source-path=SCRIPTDIR source=debs.sh
. "$ROOT/rootfs/debs.sh"

# iperf3's package and every package its libraries come from.
PKGS="iperf3 libiperf0 libsctp1 libssl3 libc6"
MULTIARCH=x86_64-linux-gnu

log() { echo "rootfs: $*" >&2; }
die() { echo "rootfs: error: $*" >&2; exit 1; }

mkdir -p "$OUT"
exec 9>"$OUT/.iperf3.lock"
flock 9

debs=
for p in $PKGS; do
	d=$(deb_fetch "$p") || die "cannot fetch $p"
	debs+="$(basename "$d") "
done
KEY="$debs $(sha256sum "$ROOT/rootfs/iperf3.sh" | cut -c1-16)"
k=
if [ -e "$OUT/iperf3.cpio.gz" ] && [ -x "$OUT/iperf3/run" ] && [ -e "$OUT/.iperf3.key" ] &&
	read -r k <"$OUT/.iperf3.key" && [ "$k" = "$KEY" ]; then
	log "iperf3 is up to date"
	exit 0
fi

log "iperf3 (bench add-on)"
WORK=$OUT/.iperf3.work
rm -rf "$WORK"
mkdir -p "$WORK/pkgs"
trap 'rm -rf "$WORK"' EXIT
for p in $PKGS; do
	dpkg-deb -x "$(deb_fetch "$p")" "$WORK/pkgs"
done
P=$WORK/pkgs
[ -x "$P/usr/bin/iperf3" ] || die "no usr/bin/iperf3 in the iperf3 package"

# find_lib NAME: the path of shared library NAME in the unpacked packages.
find_lib() {
	local d
	for d in "$P/lib/$MULTIARCH" "$P/usr/lib/$MULTIARCH" "$P/lib" "$P/usr/lib"; do
		if [ -e "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}
needed() { readelf -d "$1" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $5); print $5 }'; }

# Tree: bin/iperf3, lib/x86_64-linux-gnu/*.so*, lib64/ld-linux-x86-64.so.2.
T=$WORK/tree
mkdir -p "$T/bin" "$T/lib/$MULTIARCH" "$T/lib64"
cp "$P/usr/bin/iperf3" "$T/bin/iperf3"
interp=$(readelf -l "$P/usr/bin/iperf3" | sed -n 's/.*program interpreter: \(.*\)\]/\1/p')
[ "$interp" = /lib64/ld-linux-x86-64.so.2 ] || die "iperf3: unexpected loader '$interp'"
cp -L "$(find_lib ld-linux-x86-64.so.2)" "$T/lib64/ld-linux-x86-64.so.2"
todo=$(needed "$T/bin/iperf3")
seen=" "
while [ -n "$todo" ]; do
	next=
	for lib in $todo; do
		case $seen in *" $lib "*) continue ;; esac
		[ "$lib" != ld-linux-x86-64.so.2 ] || continue # in lib64 already
		seen+="$lib "
		src=$(find_lib "$lib") || die "iperf3 needs $lib, which is in none of: $PKGS"
		cp -L "$src" "$T/lib/$MULTIARCH/$lib"
		next+=" $(needed "$T/lib/$MULTIARCH/$lib")"
	done
	todo=$next
done
log "iperf3 libraries:$seen"

# Host side: run through the packaged loader and libraries only.
cat >"$T/run" <<'EOF'
#!/bin/sh
# Runs the packaged iperf3 with its own loader and libraries (rootfs/iperf3.sh).
d=$(dirname "$(readlink -f "$0")")
exec "$d/lib64/ld-linux-x86-64.so.2" --library-path "$d/lib/x86_64-linux-gnu" "$d/bin/iperf3" "$@"
EOF
chmod 755 "$T/run"
"$T/run" --version >/dev/null || die "the packaged iperf3 does not run"

find "$T" -exec touch -h -d @0 {} +
(cd "$T" && find bin lib lib64 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno --quiet) | gzip -9 -n >"$WORK/iperf3.cpio.gz"
rm -rf "$OUT/iperf3"
mv "$T" "$OUT/iperf3"
mv "$WORK/iperf3.cpio.gz" "$OUT/iperf3.cpio.gz"
echo "$KEY" >"$OUT/.iperf3.key"
log "done: $OUT/iperf3.cpio.gz ($(stat -c %s "$OUT/iperf3.cpio.gz") bytes)"
