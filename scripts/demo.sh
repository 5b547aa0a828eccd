#!/usr/bin/env bash
# The README's main command: all set-up, then a Cairn server (with three simulated nodes, until
# the node agent exists) on a fresh data dir with the examples applied and running. The server stays in the foreground; Ctrl-C (or SIGTERM) stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

data_dir="${CAIRN_DATA_DIR:-/var/lib/cairn/demo-$(date +%s)}"
listen="${CAIRN_LISTEN:-127.0.0.1:6443}"
mkdir -p "$data_dir"
node bin/cairn.js server --data-dir "$data_dir" --listen "$listen" --simulated-nodes 3 &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT INT TERM

export KUBECONFIG="$data_dir/admin.kubeconfig"
for _ in $(seq 1 100); do
  [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "demo: the server exited" >&2; exit 1; }
  sleep 0.2
done

kubectl apply -f examples/guestbook.yaml
kubectl apply -f examples/crd-backup.yaml
kubectl wait --for=condition=Established crd/backups.demo.cairn.io --timeout=30s
kubectl apply -f examples/backup.yaml
kubectl -n guestbook rollout status deployment/frontend --timeout=60s
echo
kubectl get nodes -o wide
kubectl get namespaces
kubectl -n guestbook get deployments,pods,services,endpoints,configmaps,secrets,backups -o wide
cat <<MSG

Cairn is running at https://${listen} with its data in ${data_dir}.
Point kubectl at it from another terminal:

  export KUBECONFIG=${KUBECONFIG}
  kubectl get ns
  kubectl api-resources

Press Ctrl-C to stop the server.
MSG
wait "$server_pid"
