#!/bin/sh
# A vigil response action: pause (default) or stop (--kill) the container an
# alert is about, through containerd's ctr.
#
# vigil runs it with the alert's JSON on stdin and, in the environment:
#   VIGIL_CONTAINER_ID         the container's full id ("host" outside containers)
#   VIGIL_CONTAINER_NAMESPACE  its containerd namespace (k8s.io, moby, default, ...)
#   VIGIL_RULE, VIGIL_PID      the rule that fired and the process it fired on
# ctr reads CONTAINERD_ADDRESS for containerd's socket (default
# /run/containerd/containerd.sock). Run by hand, without VIGIL_CONTAINER_ID, it
# takes the container id from the alert's output_fields (container.full_id or
# container.id, which needs jq) and looks for the container in every namespace.
#
# Exit status: 0 when the container is paused (or stopped), or when the alert
# is about a host process (nothing to do); 1 when ctr failed; 2 on bad usage.
set -eu

action=pause
case "${1:-}" in
	"" | --pause) action=pause ;;
	--kill) action=kill ;;
	*) echo "usage: $0 [--pause | --kill]" >&2; exit 2 ;;
esac

id=${VIGIL_CONTAINER_ID:-}
ns=${VIGIL_CONTAINER_NAMESPACE:-}
if [ -z "$id" ] && command -v jq >/dev/null 2>&1; then
	id=$(jq -r '.output_fields["container.full_id"] // .output_fields["container.id"] // empty')
fi
if [ -z "$id" ] || [ "$id" = host ]; then
	echo "rule ${VIGIL_RULE:-?}: not about a container; nothing to $action" >&2
	exit 0
fi

if [ -z "$ns" ]; then
	# The alert named no namespace: find the container (a short id is a
	# prefix of the full one).
	for n in $(ctr namespaces list --quiet); do
		full=$(ctr --namespace "$n" containers list --quiet | grep -m1 "^$id" || true)
		if [ -n "$full" ]; then
			ns=$n id=$full
			break
		fi
	done
	if [ -z "$ns" ]; then
		echo "container $id: not found in any containerd namespace" >&2
		exit 1
	fi
fi

case $action in
pause)
	if ! out=$(ctr --namespace "$ns" tasks pause "$id" 2>&1); then
		# Pausing twice is not a failure.
		if ctr --namespace "$ns" tasks list | grep -q "^$id .*PAUSED"; then
			echo "container $id in namespace $ns: already paused" >&2
			exit 0
		fi
		echo "container $id in namespace $ns: pausing failed: $out" >&2
		exit 1
	fi
	echo "container $id in namespace $ns: paused (rule ${VIGIL_RULE:-?}, pid ${VIGIL_PID:-?})" >&2
	;;
kill)
	if ! out=$(ctr --namespace "$ns" tasks kill --all --signal SIGKILL "$id" 2>&1); then
		echo "container $id in namespace $ns: stopping failed: $out" >&2
		exit 1
	fi
	echo "container $id in namespace $ns: stopped (rule ${VIGIL_RULE:-?}, pid ${VIGIL_PID:-?})" >&2
	;;
esac
