#!/usr/bin/env bash
# Runs container tests against a second engine: Docker-in-Docker from Debian's `docker.io`
# (ci/dind/Dockerfile), reached over TCP at its address on the outer engine's bridge.
#   ci/dind/run.sh [nextest filter arguments…]
# Seen here (the machine is itself a container without CAP_SYS_RESOURCE): `--privileged` is
# refused ("unable to apply caps"), so the engine runs with every capability but that one,
# unconfined seccomp/AppArmor and the host's cgroups; storage is vfs (slow: each layer copied).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=shakedown-dind
base="${SHAKEDOWN_BASE_IMAGE:-shakedown/debian-base:bookworm}"
docker build -q --build-arg "BASE=$base" -t shakedown-test/dind:bookworm ci/dind >/dev/null
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --cap-add=ALL --cap-drop=SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --security-opt systempaths=unconfined --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  shakedown-test/dind:bookworm >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
inner="tcp://$ip:2375"
for _ in $(seq 1 60); do DOCKER_HOST=$inner docker version >/dev/null 2>&1 && break; sleep 1; done
# The images, from the outer engine (built there from the recipes), not from a registry.
shakedown=target/debug/shakedown
[[ -x $shakedown ]] || cargo build -q -p shakedown-cli --bin shakedown
for image in $($shakedown images list); do
  docker image inspect "$image" >/dev/null 2>&1 || $shakedown images build
  docker save "$image" | DOCKER_HOST=$inner docker load -q
done
echo "DOCKER_HOST=$inner"
DOCKER_HOST=$inner CI=true cargo nextest run --workspace "$@"
