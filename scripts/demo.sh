#!/usr/bin/env bash
# The README's main command: all set-up, then `cairn up` (a control plane and three nodes on
# this machine, each node a network namespace with its own agent), then the example web app
# (examples/web.yaml): three busybox httpd pods spread over the nodes and a client pod that
# fetches each page across the pod network. The cluster keeps running afterwards; `cairn down`
# (see the end) removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

data_dir="${CAIRN_DATA_DIR:-/var/lib/cairn}"
nodes="${CAIRN_NODES:-3}"
cairn() { node bin/cairn.js "$@"; }

cairn up --nodes "$nodes" --data-dir "$data_dir"
export KUBECONFIG="$data_dir/kubeconfig"

echo
echo "== deploying examples/web.yaml"
kubectl apply -f examples/web.yaml
kubectl -n web rollout status deployment/web --timeout=180s
kubectl -n web wait --for=condition=Ready pod/client --timeout=120s
kubectl -n web get pods -o wide

client_node=$(kubectl -n web get pod client -o jsonpath='{.spec.nodeName}')
echo
echo "== the client pod (on $client_node) fetches every web pod's page over the pod network"
fetched=0
while read -r name ip node; do
  [ -n "$ip" ] || continue
  where=$([ "$node" = "$client_node" ] && echo "same node" || echo "across nodes")
  printf '%s (%s, %s, %s): ' "$name" "$ip" "$node" "$where"
  kubectl -n web exec client -- timeout 10 wget -qO- "http://$ip:8080/"
  fetched=$((fetched + 1))
done < <(kubectl -n web get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{"\n"}{end}')
[ "$fetched" -gt 0 ] || { echo "demo: no web pod to fetch" >&2; exit 1; }

cat <<MSG

Cairn is running: a control plane and $nodes nodes, with the example app in namespace "web".

  export KUBECONFIG=$KUBECONFIG
  kubectl get nodes -o wide
  kubectl -n web get pods -o wide
  kubectl -n web logs deploy/web
  kubectl -n web exec -it client -- sh
  node bin/cairn.js status --data-dir $data_dir

Stop and remove it all with: node bin/cairn.js down --data-dir $data_dir --purge
MSG
