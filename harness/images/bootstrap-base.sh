#!/usr/bin/env bash
# Build a Debian base image that shakedown's Dockerfiles build FROM, without any container
# registry: debootstrap a minimal root file system of SUITE (a Debian release name) from the
# Debian mirror this machine's apt already uses, and `docker import` it.
#
#   harness/images/bootstrap-base.sh [TAG] [SUITE]
#
# SUITE defaults to bookworm; TAG to shakedown/debian-base:SUITE. The mirror serves every
# release, so a bookworm machine bootstraps trixie (and the other way round) just as well.
#
# Needs root, Docker and debootstrap (`apt-get install debootstrap`). Idempotent: an existing TAG
# is left alone unless SHAKEDOWN_REBUILD_BASE=1.
set -euo pipefail

suite=${2:-bookworm}
if [[ ! $suite =~ ^[a-z]+$ ]]; then
  echo "error: SUITE must be a Debian release name such as bookworm or trixie, not '$suite'" >&2
  exit 1
fi
tag=${1:-shakedown/debian-base:$suite}

if [[ ${SHAKEDOWN_REBUILD_BASE:-0} != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "error: bootstrapping the base image needs root (debootstrap); run: sudo $0 $tag" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "debootstrap is not installed; installing it with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "error: debootstrap is not installed and there is no apt-get; install debootstrap, or set SHAKEDOWN_BASE_IMAGE to a Debian $suite image you have" >&2
    exit 1
  fi
fi

# The mirror apt already uses: the first http(s) URI of a source that serves $suite or `debian`.
mirror=${SHAKEDOWN_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(grep -rhoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+' \
             /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null \
           | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
security=${SHAKEDOWN_DEBIAN_SECURITY_MIRROR:-${mirror}-security}

work=$(mktemp -d /tmp/shakedown-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "bootstrapping $suite from $mirror into $work (takes a few minutes)"
debootstrap --variant=minbase --include=ca-certificates "$suite" "$work/rootfs" "$mirror"

# Sources like the official image's, pointed at the same mirror.
rm -f "$work/rootfs/etc/apt/sources.list"
cat > "$work/rootfs/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
chroot "$work/rootfs" apt-get clean
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/log/"*.log

tar --numeric-owner -C "$work/rootfs" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --message "debootstrap $suite minbase from $mirror" \
      - "$tag"
echo "imported $tag"
