// Recorded `nft -j list table` output (nftables 1.0.6) of real tables, for the trace evaluator's
// unit tests. To re-record: in a throwaway namespace (ip netns add cairn-trace-rec), run
// `nft -f` on the script, then `nft -j list table ip <name>`; paste both here.

/** A proxy/policy/overlay table in the layout of issue 5's design (kube-proxy nftables mode). */
export const SERVICE_TABLE_SCRIPT = `add table ip cairn
add chain ip cairn proxy-nat-prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain ip cairn proxy-nat-output { type nat hook output priority -100; policy accept; }
add chain ip cairn proxy-nat-postrouting { type nat hook postrouting priority srcnat; policy accept; }
add chain ip cairn proxy-filter-forward { type filter hook forward priority -10; policy accept; }
add chain ip cairn policy-forward { type filter hook forward priority 0; policy accept; }
add chain ip cairn pod-masquerade { type nat hook postrouting priority srcnat; policy accept; }
add chain ip cairn proxy-services
add chain ip cairn proxy-masquerading
add chain ip cairn proxy-mark-for-masquerade
add chain ip cairn proxy-nodeports
add chain ip cairn proxy-reject-chain
add chain ip cairn service-aaaa1111-default-web-tcp-80
add chain ip cairn endpoint-bbbb2222-default-web-tcp-80-a
add chain ip cairn endpoint-cccc3333-default-web-tcp-80-b
add chain ip cairn policy-ingress-web
add map ip cairn service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
add map ip cairn service-nodeports { type inet_proto . inet_service : verdict; }
add map ip cairn no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }
add set ip cairn nodeport-ips { type ipv4_addr; }
add set ip cairn cluster-ips { type ipv4_addr; }
add set ip cairn policy-allowed-sources { type ipv4_addr; flags interval; }
add set ip cairn policy-ports { type ipv4_addr . inet_proto . inet_service . ipv4_addr; flags interval; }
add map ip cairn policy-dispatch { type ipv4_addr : verdict; }
add set ip cairn affinity-dddd4444-default-web-tcp-80-a { type ipv4_addr; flags dynamic,timeout; timeout 3h; }
add rule ip cairn proxy-nat-prerouting jump proxy-services
add rule ip cairn proxy-nat-output jump proxy-services
add rule ip cairn proxy-nat-postrouting jump proxy-masquerading
add rule ip cairn proxy-masquerading meta mark & 0x4000 == 0 return
add rule ip cairn proxy-masquerading meta mark set meta mark ^ 0x4000
add rule ip cairn proxy-masquerading masquerade fully-random
add rule ip cairn proxy-mark-for-masquerade meta mark set meta mark | 0x4000
add rule ip cairn proxy-services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip cairn proxy-services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
add rule ip cairn proxy-services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
add rule ip cairn service-aaaa1111-default-web-tcp-80 ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/16 jump proxy-mark-for-masquerade comment "default/web:http cluster IP"
add rule ip cairn service-aaaa1111-default-web-tcp-80 ip saddr @affinity-dddd4444-default-web-tcp-80-a goto endpoint-bbbb2222-default-web-tcp-80-a
add rule ip cairn service-aaaa1111-default-web-tcp-80 numgen random mod 2 vmap { 0 : goto endpoint-bbbb2222-default-web-tcp-80-a, 1 : goto endpoint-cccc3333-default-web-tcp-80-b } comment "default/web:http"
add rule ip cairn endpoint-bbbb2222-default-web-tcp-80-a ip saddr 10.244.1.5 jump proxy-mark-for-masquerade
add rule ip cairn endpoint-bbbb2222-default-web-tcp-80-a update @affinity-dddd4444-default-web-tcp-80-a { ip saddr }
add rule ip cairn endpoint-bbbb2222-default-web-tcp-80-a meta l4proto tcp dnat to 10.244.1.5:8080 comment "default/web:http -> 10.244.1.5:8080"
add rule ip cairn endpoint-cccc3333-default-web-tcp-80-b ip saddr 10.244.2.7 jump proxy-mark-for-masquerade
add rule ip cairn endpoint-cccc3333-default-web-tcp-80-b meta l4proto tcp dnat to 10.244.2.7:8080 comment "default/web:http -> 10.244.2.7:8080"
add rule ip cairn proxy-reject-chain reject
add rule ip cairn proxy-filter-forward ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services
add rule ip cairn proxy-filter-forward ct state invalid drop
add rule ip cairn proxy-filter-forward ct state new ip daddr @cluster-ips reject comment "invalid ports of cluster IPs"
add rule ip cairn proxy-filter-forward ct state new ip daddr 10.96.0.0/12 drop comment "unallocated cluster IPs"
add rule ip cairn policy-forward ct state established,related accept
add rule ip cairn policy-forward ct state invalid drop
add rule ip cairn policy-forward iifname "cairn*" oifname != "cairn.1" ip daddr vmap @policy-dispatch
add rule ip cairn policy-forward ip daddr vmap @policy-dispatch
add rule ip cairn policy-ingress-web ip saddr 10.244.1.1 accept comment "from the pod's own node"
add rule ip cairn policy-ingress-web ip saddr @policy-allowed-sources tcp dport { 80, 8000-9000 } accept comment "policy default/allow ingress[0] from[0]"
add rule ip cairn policy-ingress-web ip daddr . meta l4proto . th dport . ip saddr @policy-ports accept comment "policy default/allow ingress[1]"
add rule ip cairn policy-ingress-web meta l4proto { tcp, udp } th dport 53 ip saddr { 10.0.0.0/8, 192.168.1.1 } accept
add rule ip cairn policy-ingress-web counter drop comment "default deny ingress default/web-0"
add rule ip cairn pod-masquerade ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return comment "pod to pod: no NAT"
add rule ip cairn pod-masquerade ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random comment "pod to outside"
add rule ip cairn pod-masquerade ip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return comment "outside to local pods: no NAT"
add rule ip cairn pod-masquerade ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random comment "outside to remote pods"
add element ip cairn service-ips { 10.96.0.20 . tcp . 80 : goto service-aaaa1111-default-web-tcp-80 }
add element ip cairn service-nodeports { tcp . 30080 : goto service-aaaa1111-default-web-tcp-80 }
add element ip cairn no-endpoint-services { 10.96.0.30 . tcp . 80 : goto proxy-reject-chain }
add element ip cairn nodeport-ips { 172.20.0.11 }
add element ip cairn cluster-ips { 10.96.0.20, 10.96.0.30 }
add element ip cairn policy-allowed-sources { 10.244.2.0/24, 10.244.3.4-10.244.3.9 }
add element ip cairn policy-ports { 10.244.1.5 . tcp . 8080 . 10.244.5.0/24 }
add element ip cairn policy-dispatch { 10.244.1.5 : jump policy-ingress-web }
add element ip cairn affinity-dddd4444-default-web-tcp-80-a { 10.244.9.9 timeout 3h }
`;
export const SERVICE_TABLE_JSON = String.raw`{"nftables": [
{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}},
{"table":{"family":"ip","name":"cairn","handle":3}},
{"map":{"family":"ip","name":"service-ips","table":"cairn","type":["ipv4_addr","inet_proto","inet_service"],"handle":16,"map":"verdict","elem":[[{"concat":["10.96.0.20","tcp",80]},{"goto":{"target":"service-aaaa1111-default-web-tcp-80"}}]]}},
{"map":{"family":"ip","name":"service-nodeports","table":"cairn","type":["inet_proto","inet_service"],"handle":17,"map":"verdict","elem":[[{"concat":["tcp",30080]},{"goto":{"target":"service-aaaa1111-default-web-tcp-80"}}]]}},
{"map":{"family":"ip","name":"no-endpoint-services","table":"cairn","type":["ipv4_addr","inet_proto","inet_service"],"handle":18,"map":"verdict","elem":[[{"concat":["10.96.0.30","tcp",80]},{"goto":{"target":"proxy-reject-chain"}}]]}},
{"set":{"family":"ip","name":"nodeport-ips","table":"cairn","type":"ipv4_addr","handle":19,"elem":["172.20.0.11"]}},
{"set":{"family":"ip","name":"cluster-ips","table":"cairn","type":"ipv4_addr","handle":20,"elem":["10.96.0.20","10.96.0.30"]}},
{"set":{"family":"ip","name":"policy-allowed-sources","table":"cairn","type":"ipv4_addr","handle":21,"flags":["interval"],"elem":[{"prefix":{"addr":"10.244.2.0","len":24}},{"range":["10.244.3.4","10.244.3.9"]}]}},
{"set":{"family":"ip","name":"policy-ports","table":"cairn","type":["ipv4_addr","inet_proto","inet_service","ipv4_addr"],"handle":22,"flags":["interval"],"elem":[{"concat":["10.244.1.5","tcp",8080,{"prefix":{"addr":"10.244.5.0","len":24}}]}]}},
{"map":{"family":"ip","name":"policy-dispatch","table":"cairn","type":"ipv4_addr","handle":23,"map":"verdict","elem":[["10.244.1.5",{"jump":{"target":"policy-ingress-web"}}]]}},
{"set":{"family":"ip","name":"affinity-dddd4444-default-web-tcp-80-a","table":"cairn","type":"ipv4_addr","handle":24,"size":65535,"flags":["timeout"],"timeout":10800,"elem":[{"elem":{"val":"10.244.9.9","expires":10799}}]}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-nat-prerouting","handle":1,"type":"nat","hook":"prerouting","prio":-100,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-nat-output","handle":2,"type":"nat","hook":"output","prio":-100,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-nat-postrouting","handle":3,"type":"nat","hook":"postrouting","prio":100,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-filter-forward","handle":4,"type":"filter","hook":"forward","prio":-10,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"policy-forward","handle":5,"type":"filter","hook":"forward","prio":0,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"pod-masquerade","handle":6,"type":"nat","hook":"postrouting","prio":100,"policy":"accept"}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-services","handle":7}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-masquerading","handle":8}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-mark-for-masquerade","handle":9}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-nodeports","handle":10}},
{"chain":{"family":"ip","table":"cairn","name":"proxy-reject-chain","handle":11}},
{"chain":{"family":"ip","table":"cairn","name":"service-aaaa1111-default-web-tcp-80","handle":12}},
{"chain":{"family":"ip","table":"cairn","name":"endpoint-bbbb2222-default-web-tcp-80-a","handle":13}},
{"chain":{"family":"ip","table":"cairn","name":"endpoint-cccc3333-default-web-tcp-80-b","handle":14}},
{"chain":{"family":"ip","table":"cairn","name":"policy-ingress-web","handle":15}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-nat-prerouting","handle":25,"expr":[{"jump":{"target":"proxy-services"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-nat-output","handle":26,"expr":[{"jump":{"target":"proxy-services"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-nat-postrouting","handle":27,"expr":[{"jump":{"target":"proxy-masquerading"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-filter-forward","handle":45,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"new"}},{"vmap":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@no-endpoint-services"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-filter-forward","handle":46,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"invalid"}},{"drop":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-filter-forward","handle":47,"comment":"invalid ports of cluster IPs","expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"new"}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"@cluster-ips"}},{"reject":{"type":"icmp","expr":"port-unreachable"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-filter-forward","handle":48,"comment":"unallocated cluster IPs","expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"new"}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"10.96.0.0","len":12}}}},{"drop":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-forward","handle":49,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-forward","handle":50,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"invalid"}},{"drop":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-forward","handle":51,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"cairn*"}},{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"cairn.1"}},{"vmap":{"key":{"payload":{"protocol":"ip","field":"daddr"}},"data":"@policy-dispatch"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-forward","handle":52,"expr":[{"vmap":{"key":{"payload":{"protocol":"ip","field":"daddr"}},"data":"@policy-dispatch"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"pod-masquerade","handle":61,"comment":"pod to pod: no NAT","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"return":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"pod-masquerade","handle":62,"comment":"pod to outside","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"224.0.0.0","len":4}}}},{"masquerade":{"flags":"fully-random"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"pod-masquerade","handle":63,"comment":"outside to local pods: no NAT","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"10.244.1.0","len":24}}}},{"return":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"pod-masquerade","handle":64,"comment":"outside to remote pods","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"masquerade":{"flags":"fully-random"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-services","handle":32,"expr":[{"vmap":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@service-ips"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-services","handle":33,"expr":[{"match":{"op":"==","left":{"fib":{"result":"type","flags":["daddr"]}},"right":"local"}},{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"127.0.0.0","len":8}}}},{"vmap":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@service-nodeports"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-services","handle":34,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"@nodeport-ips"}},{"vmap":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@service-nodeports"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-masquerading","handle":28,"expr":[{"match":{"op":"==","left":{"&":[{"meta":{"key":"mark"}},16384]},"right":0}},{"return":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-masquerading","handle":29,"expr":[{"mangle":{"key":{"meta":{"key":"mark"}},"value":{"^":[{"meta":{"key":"mark"}},16384]}}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-masquerading","handle":30,"expr":[{"masquerade":{"flags":"fully-random"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-mark-for-masquerade","handle":31,"expr":[{"mangle":{"key":{"meta":{"key":"mark"}},"value":{"|":[{"meta":{"key":"mark"}},16384]}}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"proxy-reject-chain","handle":44,"expr":[{"reject":{"type":"icmp","expr":"port-unreachable"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"service-aaaa1111-default-web-tcp-80","handle":35,"comment":"default/web:http cluster IP","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.96.0.20"}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":80}},{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.244.0.0","len":16}}}},{"jump":{"target":"proxy-mark-for-masquerade"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"service-aaaa1111-default-web-tcp-80","handle":36,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@affinity-dddd4444-default-web-tcp-80-a"}},{"goto":{"target":"endpoint-bbbb2222-default-web-tcp-80-a"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"service-aaaa1111-default-web-tcp-80","handle":38,"comment":"default/web:http","expr":[{"vmap":{"key":{"numgen":{"mode":"random","mod":2,"offset":0}},"data":{"set":[[0,{"goto":{"target":"endpoint-bbbb2222-default-web-tcp-80-a"}}],[1,{"goto":{"target":"endpoint-cccc3333-default-web-tcp-80-b"}}]]}}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"endpoint-bbbb2222-default-web-tcp-80-a","handle":39,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.244.1.5"}},{"jump":{"target":"proxy-mark-for-masquerade"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"endpoint-bbbb2222-default-web-tcp-80-a","handle":40,"expr":[{"set":{"op":"update","elem":{"payload":{"protocol":"ip","field":"saddr"}},"set":"@affinity-dddd4444-default-web-tcp-80-a"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"endpoint-bbbb2222-default-web-tcp-80-a","handle":41,"comment":"default/web:http -> 10.244.1.5:8080","expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"dnat":{"addr":"10.244.1.5","port":8080}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"endpoint-cccc3333-default-web-tcp-80-b","handle":42,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.244.2.7"}},{"jump":{"target":"proxy-mark-for-masquerade"}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"endpoint-cccc3333-default-web-tcp-80-b","handle":43,"comment":"default/web:http -> 10.244.2.7:8080","expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"dnat":{"addr":"10.244.2.7","port":8080}}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-ingress-web","handle":53,"comment":"from the pod's own node","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.244.1.1"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-ingress-web","handle":55,"comment":"policy default/allow ingress[0] from[0]","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@policy-allowed-sources"}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[80,{"range":[8000,9000]}]}}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-ingress-web","handle":56,"comment":"policy default/allow ingress[1]","expr":[{"match":{"op":"==","left":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}},{"payload":{"protocol":"ip","field":"saddr"}}]},"right":"@policy-ports"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-ingress-web","handle":59,"expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},{"match":{"op":"==","left":{"payload":{"protocol":"th","field":"dport"}},"right":53}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"set":[{"prefix":{"addr":"10.0.0.0","len":8}},"192.168.1.1"]}}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn","chain":"policy-ingress-web","handle":60,"comment":"default deny ingress default/web-0","expr":[{"counter":{"packets":0,"bytes":0}},{"drop":null}]}}
]}`;

/** Odd rules, one per line of the script: ct status/original, icmp, ranges, maps in dnat, anonymous vmaps, fib oif, reject types. */
export const EXTRA_TABLE_SCRIPT = `add table ip cairn-extra
add chain ip cairn-extra x-chain
add rule ip cairn-extra x-chain ct status dnat accept
add rule ip cairn-extra x-chain ct original ip daddr 10.96.0.1 accept
add rule ip cairn-extra x-chain meta mark 0x4000 accept
add rule ip cairn-extra x-chain meta l4proto icmp icmp type echo-request accept
add rule ip cairn-extra x-chain ip protocol udp accept
add rule ip cairn-extra x-chain tcp dport != 80 accept
add rule ip cairn-extra x-chain ip daddr != { 10.0.0.1, 10.0.0.2 } accept
add rule ip cairn-extra x-chain masquerade
add rule ip cairn-extra x-chain snat to 1.2.3.4
add rule ip cairn-extra x-chain meta l4proto udp dnat to 10.1.1.1
add rule ip cairn-extra x-chain meta l4proto tcp redirect to :8080
add rule ip cairn-extra x-chain iifname { "eth0", "cairn0" } log prefix "x" limit rate 10/second counter accept
add rule ip cairn-extra x-chain tcp dport 1000-2000 accept
add rule ip cairn-extra x-chain th dport < 1024 accept
add rule ip cairn-extra x-chain meta mark set 0x10 ct mark set meta mark notrack
add rule ip cairn-extra x-chain fib saddr . iif oif missing drop
add rule ip cairn-extra x-chain meta iif "lo" accept
add rule ip cairn-extra x-chain ip daddr vmap { 10.0.0.0/8 : drop, 192.168.0.1-192.168.0.9 : accept }
add rule ip cairn-extra x-chain dnat to ip daddr map { 10.96.0.5 : 10.244.1.1 }
add rule ip cairn-extra x-chain dnat ip addr . port to ip daddr . tcp dport map { 10.96.0.6 . 80 : 10.244.1.2 . 8080 }
add rule ip cairn-extra x-chain ip saddr & 255.255.255.0 == 10.1.2.0 continue
add rule ip cairn-extra x-chain reject with tcp reset
add rule ip cairn-extra x-chain reject with icmp type host-unreachable
add rule ip cairn-extra x-chain udp sport 53 return
add rule ip cairn-extra x-chain ip daddr 10.96.0.10 udp dport 53 dnat to 172.20.0.1:53
`;
export const EXTRA_TABLE_JSON = String.raw`{"nftables": [
{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}},
{"table":{"family":"ip","name":"cairn-extra","handle":2}},
{"chain":{"family":"ip","table":"cairn-extra","name":"x-chain","handle":1}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":2,"expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":3,"expr":[{"match":{"op":"==","left":{"ct":{"key":"ip daddr","dir":"original"}},"right":"10.96.0.1"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":4,"expr":[{"match":{"op":"==","left":{"meta":{"key":"mark"}},"right":16384}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":5,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"echo-request"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":6,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"protocol"}},"right":"udp"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":7,"expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":80}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":9,"expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"set":["10.0.0.1","10.0.0.2"]}}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":10,"expr":[{"masquerade":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":11,"expr":[{"snat":{"addr":"1.2.3.4"}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":12,"expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"udp"}},{"dnat":{"addr":"10.1.1.1"}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":13,"expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"redirect":{"port":8080}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":15,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":{"set":["eth0","cairn0"]}}},{"log":{"prefix":"x"}},{"limit":{"rate":10,"burst":5,"per":"second"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":16,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"range":[1000,2000]}}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":17,"expr":[{"match":{"op":"<","left":{"payload":{"protocol":"th","field":"dport"}},"right":1024}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":18,"expr":[{"mangle":{"key":{"meta":{"key":"mark"}},"value":16}},{"mangle":{"key":{"ct":{"key":"mark"}},"value":{"meta":{"key":"mark"}}}},{"notrack":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":19,"expr":[{"match":{"op":"==","left":{"fib":{"result":"oif","flags":["saddr","iif"]}},"right":false}},{"drop":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":20,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iif"}},"right":"lo"}},{"accept":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":22,"expr":[{"vmap":{"key":{"payload":{"protocol":"ip","field":"daddr"}},"data":{"set":[[{"prefix":{"addr":"10.0.0.0","len":8}},{"drop":null}],[{"range":["192.168.0.1","192.168.0.9"]},{"accept":null}]]}}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":24,"expr":[{"dnat":{"addr":{"map":{"key":{"payload":{"protocol":"ip","field":"daddr"}},"data":{"set":[["10.96.0.5","10.244.1.1"]]}}}}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":26,"expr":[{"dnat":{"family":"ip","addr":{"map":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"payload":{"protocol":"tcp","field":"dport"}}]},"data":{"set":[[{"concat":["10.96.0.6",80]},{"concat":["10.244.1.2",8080]}]]}}}}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":27,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.1.2.0","len":24}}}},{"continue":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":28,"expr":[{"reject":{"type":"tcp reset"}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":29,"expr":[{"reject":{"type":"icmp","expr":"host-unreachable"}}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":30,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"sport"}},"right":53}},{"return":null}]}},
{"rule":{"family":"ip","table":"cairn-extra","chain":"x-chain","handle":31,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.96.0.10"}},{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":53}},{"dnat":{"addr":"172.20.0.1","port":53}}]}}
]}`;
