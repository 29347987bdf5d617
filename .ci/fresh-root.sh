#!/usr/bin/env bash
# Proves the README's commands on a fresh Debian 12 machine: builds a minimal root with
# mmdebstrap, copies a clean `git archive` of the checkout in and runs, inside it, exactly what
# the README tells a new user (`make deps test`, then `make deps run` and the example apps
# answering), then builds the Debian package there and installs it into a second, pristine copy
# of the root, where the packaged emperor serves a vassal from /etc/apps.d.
# A package missing from `make deps` or from the .deb's Depends makes this fail.
#   .ci/fresh-root.sh [TREEISH]     (default: the working tree as committed plus its changes)
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /var/tmp/emperor-fresh.XXXXXX)
roots=()

# Every mount below a root is undone, innermost first, whatever way we leave; only then are
# the roots removed (an rm -rf through a live /dev bind mount would walk into the host's /dev).
cleanup() {
        local r m
        for r in "${roots[@]}"; do
                for m in $(findmnt -rn -o TARGET | grep -F "$r/" | sort -r); do
                        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
                done
        done
        for r in "${roots[@]}"; do
                if findmnt -rn -o TARGET | grep -qF "$r/"; then
                        echo "fresh-root: $r still has mounts, left in place" >&2
                        return
                fi
        done
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== fresh root: %s (%d s)\n' "$1" "$SECONDS"; }

# A chroot with the kernel's file systems, a hosts file (a real install has one) and a plain
# environment: nothing of this machine's PATH (pyenv) or variables leaks in.
enter() {
        local root=$1
        shift
        chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt} "$@"
}
prepare() {
        local root=$1
        roots+=("$root")
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
        mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
        printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
        # The machine's own trust, as its apt sources: a certificate authority it added (here
        # the egress proxy's, without which npm's registry does not verify), and node told to
        # use the system's store (NODE_EXTRA_CA_CERTS), as this machine does.
        if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
                mkdir -p "$root/usr/local/share/ca-certificates"
                cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
                enter "$root" update-ca-certificates >/dev/null
        fi
}

step "mmdebstrap bookworm"
command -v mmdebstrap >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
                --no-install-recommends mmdebstrap
}
# The machine's own apt sources, so the root sees the same registry this machine does.
sources=()
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
        [ -s "$f" ] && sources+=("$f")
done
mmdebstrap --quiet --variant=apt --include=make,ca-certificates bookworm "$work/base" "${sources[@]}"
cp -a "$work/base" "$work/pristine"

step "a clean git archive of the checkout"
tree=${1:-$(git stash create)}
tree=${tree:-HEAD}
mkdir "$work/base/src"
git archive "$tree" | tar -x -C "$work/base/src"
prepare "$work/base"

step "make deps test (the README's test command)"
enter "$work/base" bash -c 'cd /src && make deps test'

step "make deps run (the README's first command), the example apps answering"
enter "$work/base" bash /src/.ci/fresh-run.sh

step "make deb, lintian"
enter "$work/base" bash -c 'cd /src && make deb && lintian --fail-on error --info build/deb/*.changes'
cp "$work/base"/src/build/deb/*.deb "$work/pristine/tmp/"

step "apt install ./emperor_*.deb on a pristine root, a vassal from /etc/apps.d"
prepare "$work/pristine"
enter "$work/pristine" bash -c 'apt-get update -qq && cd /tmp &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./emperor_*.deb'
cp .ci/deb-run.sh "$work/pristine/tmp/"
enter "$work/pristine" bash /tmp/deb-run.sh

step "done"
