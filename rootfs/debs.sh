# rootfs/debs.sh: fetch Debian packages once into a cache and unpack them.
# Sourced by the rootfs and lab build scripts. Needs apt-get (lists updated).
#   EMBER_CACHE  cache root (default: ~/.cache/ember); .debs go in $EMBER_CACHE/debs

# shellcheck shell=bash disable=SC2012
EMBER_CACHE=${EMBER_CACHE:-$HOME/.cache/ember}
DEB_DIR=$EMBER_CACHE/debs

# deb_resolve META: follow a meta package (linux-image-cloud-amd64) to the
# versioned package it depends on (linux-image-6.1.0-NN-cloud-amd64).
deb_resolve() {
	local dep
	dep=$(apt-cache depends "$1" 2>/dev/null |
		awk '/^ *Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$dep" ]; then
		echo "debs: cannot resolve $1 (run apt-get update?)" >&2
		return 1
	fi
	echo "$dep"
}

# deb_fetch PKG: print the path of PKG's .deb, downloading it on first use.
deb_fetch() {
	local pkg=$1 f
	mkdir -p "$DEB_DIR"
	f=$(ls "$DEB_DIR/${pkg}_"*.deb 2>/dev/null | head -n1)
	if [ -z "$f" ]; then
		(cd "$DEB_DIR" && apt-get download -q "$pkg" >&2) || {
			echo "debs: apt-get download $pkg failed" >&2
			return 1
		}
		f=$(ls "$DEB_DIR/${pkg}_"*.deb | head -n1)
	fi
	echo "$f"
}

# deb_unpack PKG DIR: unpack PKG's files into DIR.
deb_unpack() {
	local f
	f=$(deb_fetch "$1") || return 1
	mkdir -p "$2"
	dpkg-deb -x "$f" "$2"
}
