#!/usr/bin/env bash
# Build a Debian base image that shakedown's Dockerfiles build FROM, without any container
# registry: bootstrap a minimal root file system of SUITE (a Debian release name) from the
# Debian mirror this machine's apt already uses, and `docker import` it.
#
#   harness/images/bootstrap-base.sh [TAG] [SUITE]
#
# SUITE defaults to bookworm; TAG to shakedown/debian-base:SUITE. The mirror serves every
# release, so a bookworm machine bootstraps trixie (and the other way round) just as well.
#
# The base is the equivalent of the official `debian:SUITE-slim`, with its settings for
# containers: no documentation, manual pages or translations unpacked, dpkg without fsync
# (`force-unsafe-io`: an image build is thrown away on failure anyway), apt keeping no package
# cache or translations. With mmdebstrap (installed on demand where apt-get is) the bootstrap
# takes seconds: apt resolves and downloads in parallel and the tarball goes straight to
# `docker import`; otherwise debootstrap (minutes).
#
# Needs root and Docker. Idempotent: an existing TAG is left alone unless
# SHAKEDOWN_REBUILD_BASE=1. SHAKEDOWN_BOOTSTRAP=debootstrap forces debootstrap.
set -euo pipefail

suite=${2:-bookworm}
if [[ ! $suite =~ ^[a-z]+$ ]]; then
  echo "error: SUITE must be a Debian release name such as bookworm or trixie, not '$suite'" >&2
  exit 1
fi
tag=${1:-shakedown/debian-base:$suite}
label=${SHAKEDOWN_BASE_LABEL:-}

if [[ ${SHAKEDOWN_REBUILD_BASE:-0} != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "error: bootstrapping the base image needs root; run: sudo $0 $tag $suite" >&2
  exit 1
fi

# mmdebstrap if it is there or can be installed, else debootstrap (installed the same way).
tool=${SHAKEDOWN_BOOTSTRAP:-mmdebstrap}
installed() { command -v "$1" >/dev/null; }
install() {
  if ! command -v apt-get >/dev/null; then return 1; fi
  echo "$1 is not installed; installing it with apt-get"
  # Another apt may hold the lock for a while (a parallel bootstrap, the system's updates).
  for _ in $(seq 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=60 "$1" >/dev/null 2>&1; then
      return 0
    fi
    apt-get update -qq -o DPkg::Lock::Timeout=60 >/dev/null 2>&1 || sleep 1
  done
  return 1
}
if [[ $tool == mmdebstrap ]] && ! installed mmdebstrap && ! install mmdebstrap; then
  tool=debootstrap
fi
if [[ $tool == debootstrap ]] && ! installed debootstrap && ! install debootstrap; then
  echo "error: neither mmdebstrap nor debootstrap is installed and they cannot be installed with apt-get; install one, or set SHAKEDOWN_BASE_IMAGE to a Debian $suite image you have" >&2
  exit 1
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

# Sources like the official image's, pointed at the same mirror.
cat > "$work/debian.sources" <<SRC
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
# The official image's container settings (debuerreotype's slimify and docker tweaks).
cat > "$work/dpkg-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
echo 'force-unsafe-io' > "$work/dpkg-speedup"
cat > "$work/apt-docker" <<'CFG'
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
CFG
# Settles a root file system ($1) as the official image is: those settings, those sources, no
# caches or logs.
cat > "$work/settle.sh" <<SETTLE
set -eu
root=\$1
mkdir -p "\$root/etc/dpkg/dpkg.cfg.d" "\$root/etc/apt/apt.conf.d" "\$root/etc/apt/sources.list.d"
cp "$work/dpkg-slim" "\$root/etc/dpkg/dpkg.cfg.d/docker"
cp "$work/dpkg-speedup" "\$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cp "$work/apt-docker" "\$root/etc/apt/apt.conf.d/docker"
rm -f "\$root/etc/apt/sources.list" "\$root"/etc/apt/sources.list.d/* \
      "\$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap" "\$root/etc/apt/apt.conf.d/99mmdebstrap"
cp "$work/debian.sources" "\$root/etc/apt/sources.list.d/debian.sources"
rm -rf "\$root/var/lib/apt/lists/"* "\$root/var/cache/apt/"*.bin \
       "\$root/var/cache/apt/archives/"*.deb "\$root/var/log/"*.log
SETTLE

import() {
  local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                 --change 'CMD ["bash"]')
  if [[ -n $label ]]; then changes+=(--change "LABEL $label"); fi
  docker import "${changes[@]}" --message "$tool $suite minbase from $mirror" - "$tag"
}

# mmdebstrap unpacks the root file system into TMPDIR: in memory where a tmpfs allows it (exec
# and device files, 2 GB free), it is quicker to fill, to pack and to remove than on disk.
in_memory() {
  local opts
  opts=$(awk '$2 == "/dev/shm" && $3 == "tmpfs" { print $4 }' /proc/mounts 2>/dev/null | head -n1)
  [[ -n $opts && ,$opts, != *,noexec,* && ,$opts, != *,nodev,* && -w /dev/shm ]] &&
    (( $(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') > 2000000 ))
}
if [[ -z ${TMPDIR:-} ]] && in_memory; then
  export TMPDIR=/dev/shm
fi

echo "bootstrapping $suite from $mirror with $tool"
if [[ $tool == mmdebstrap ]]; then
  mmdebstrap --variant=minbase --include=ca-certificates --mode=root --format=tar \
    --dpkgopt="$work/dpkg-slim" --dpkgopt='force-unsafe-io' \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook="sh $work/settle.sh \"\$1\"" \
    "$suite" - "deb $mirror $suite main" "deb $mirror $suite-updates main" \
    "deb $security $suite-security main" \
    | import
else
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$work/rootfs" "$mirror"
  chroot "$work/rootfs" apt-get clean
  sh "$work/settle.sh" "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -c . | import
fi
echo "imported $tag"
