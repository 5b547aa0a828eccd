#!/usr/bin/env bash
# The README's main command: all set-up, then `cairn up` (a control plane and three nodes on
# this machine, each node a network namespace with its own agent), then the example web app
# (examples/web.yaml): three busybox httpd pods spread over the nodes, a LoadBalancer Service and
# an Ingress in front of them, and a client pod. The client fetches each page across the pod
# network and through the Service by its DNS name; the host reaches the app by NodePort, by its
# LoadBalancer address and through the Ingress; `cairn trace` shows the path of one packet. The
# cluster keeps running afterwards; `cairn down` (see the end) removes it.
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

echo
echo "== the client pod reaches the Service by name (cluster DNS at 10.96.0.10, then the Service's ClusterIP)"
kubectl -n web exec client -- nslookup web.web.svc.cluster.local
for _ in 1 2 3; do kubectl -n web exec client -- timeout 10 wget -qO- http://web/; done

node_ip=$(kubectl get node node-1 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
lb_ip=""
for _ in $(seq 1 60); do
  lb_ip=$(kubectl -n web get service web -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
  [ -n "$lb_ip" ] && break
  sleep 1
done
[ -n "$lb_ip" ] || { echo "demo: the web Service got no LoadBalancer address" >&2; exit 1; }
echo
echo "== from this host: NodePort $node_ip:30080, LoadBalancer $lb_ip:80, Ingress web.example on $node_ip:80"
curl -fsS --max-time 10 "http://$node_ip:30080/"
curl -fsS --max-time 10 "http://$lb_ip/"
for _ in $(seq 1 30); do
  curl -fsS --max-time 10 -H 'Host: web.example' "http://$node_ip/" && break
  sleep 1
done

echo
echo "== the life of a packet from the client pod to the Service, read from the kernel"
node bin/cairn.js trace pod/client svc/web:80 -n web --data-dir "$data_dir"

cat <<MSG

Cairn is running: a control plane and $nodes nodes, with the example app in namespace "web".

  export KUBECONFIG=$KUBECONFIG
  kubectl get nodes -o wide
  kubectl -n web get pods -o wide
  kubectl -n web logs deploy/web
  kubectl -n web exec -it client -- sh
  curl http://$lb_ip/                              (the LoadBalancer address)
  curl -H 'Host: web.example' http://$node_ip/     (the Ingress, on every node)
  node bin/cairn.js trace pod/client svc/web:80 -n web --data-dir $data_dir
  node bin/cairn.js status --data-dir $data_dir

Stop and remove it all with: node bin/cairn.js down --data-dir $data_dir --purge
MSG
