// SPDX-License-Identifier: GPL-2.0
/* The LISP data plane's fast path (RFC 9300) as tc programs; the Python xTR is its slow path.
 *
 * lisp_encap_tun  tc egress of the xTR's TUN devices: what policy routing sends
 *                 there (from local EIDs, originated or routed) is looked up in
 *                 the map-cache and encapsulated to an RLOC (outer IPv4 + UDP
 *                 4341 + LISP header), then sent out with bpf_redirect after
 *                 bpf_fib_lookup. Anything else goes on into the TUN device,
 *                 to the Python ITR: misses (it sends the Map-Request), actions
 *                 that are its to take, fragments, IP options, IPv6, too big.
 * lisp_encap_eth  the same for a packet with an Ethernet header (used by
 *                 bpf_prog_test_run, which always hands one over).
 * lisp_decap      tc ingress of the RLOC-facing interfaces: IPv4 UDP to port
 *                 4341 of our RLOC whose inner IPv4 destination is a local EID
 *                 prefix of the header's instance-id loses its outer headers
 *                 and enters that instance's TUN device, as if the Python ETR
 *                 had written it there. The rest goes up the stack untouched.
 *
 * The RLOC choice and the flow hash are those of core/encapsulation.py, so
 * both engines send a flow to the same RLOC from the same UDP source port.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lisp_maps.h"

#define LISP_HEADER_LEN 8
#define OUTER4_LEN (sizeof(struct iphdr) + sizeof(struct udphdr) + LISP_HEADER_LEN)
#define SOURCE_PORT_BASE 49152
#define FLAG_N 0x80
#define FLAG_L 0x40
#define FLAG_I 0x08
#define IP_DF 0x4000
#define AF_INET 2
#define IP_MF_OFFSET 0x3fff

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lisp_lpm_key);
	__type(value, struct lisp_mc_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 100000);  /* the loader sets [itr] map-cache-limit */
} lisp_map_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lisp_lpm_key);
	__type(value, struct lisp_eid_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
} lisp_local_eids SEC(".maps");

/* ifindex of a TUN device (of the interface bpf_prog_test_run uses) -> its instance-id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
} lisp_tun_iids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lisp_config);
	__uint(max_entries, 1);
} lisp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, LISP_CTR_MAX);
} lisp_counters SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&lisp_counters, &index);

	if (value)
		*value += 1;
}

/* zlib's CRC-32 (reflected, polynomial 0xEDB88320), as flow_hash uses. */
static __always_inline __u32 crc32(__u32 crc, const __u8 *data, int len)
{
	for (int i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1));
	}
	return crc;
}

/* The flow key of core/encapsulation.flow_hash for IPv4: source, destination,
 * protocol, and the ports of TCP/UDP/SCTP when the packet is not a fragment
 * (fragments never reach the hash here: they are punted). */
static __always_inline __u32 flow_hash4(const struct iphdr *ip, const __u8 *ports, int has_ports)
{
	__u32 crc = crc32(0xffffffff, (const __u8 *)&ip->saddr, 8);

	crc = crc32(crc, &ip->protocol, 1);
	if (has_ports)
		crc = crc32(crc, ports, 4);
	return ~crc;
}

static __always_inline int usable(const struct lisp_rloc *r, __u32 families)
{
	return r->reachable && r->priority < 255 && (families & (r->version == 4 ? 1 : 2));
}

/* core/encapsulation.choose_rloc: among usable RLOCs (reachable, priority below
 * 255, of a family we have an RLOC in) of the lowest priority, the flow hash
 * picks one in proportion to the weights (all 0: equal shares). -1: none.
 * Three short passes, not unrolled, keep the verifier's state count small. */
static __noinline int choose_rloc(const struct lisp_mc_value *entry, __u32 hash, __u32 families)
{
	__u32 count = entry->count < LISP_MAX_RLOCS ? entry->count : LISP_MAX_RLOCS;
	__u32 best = 255, n = 0, total = 0, point;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < LISP_MAX_RLOCS && i < count; i++)
		if (usable(&entry->rlocs[i], families) && entry->rlocs[i].priority < best)
			best = entry->rlocs[i].priority;
	if (best == 255)
		return -1;
#pragma clang loop unroll(disable)
	for (i = 0; i < LISP_MAX_RLOCS && i < count; i++)
		if (usable(&entry->rlocs[i], families) && entry->rlocs[i].priority == best) {
			n++;
			total += entry->rlocs[i].weight;
		}
	/* The candidate the hash lands on: by weight, or the (hash % n)th. */
	point = total ? hash % total : hash % n;
#pragma clang loop unroll(disable)
	for (i = 0; i < LISP_MAX_RLOCS && i < count; i++) {
		const struct lisp_rloc *r = &entry->rlocs[i];
		__u32 share = total ? r->weight : 1;

		if (!usable(r, families) || r->priority != best)
			continue;
		if (point < share)
			return i;
		point -= share;
	}
	return -1;  /* not reached: point < total (or n) always lands */
}

static __always_inline __u16 ipv4_checksum(const struct iphdr *ip)
{
	const __u16 *words = (const __u16 *)ip;
	__u32 sum = 0;

	for (int i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += words[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* The outer headers, in the order they go on the wire. */
struct outer4 {
	struct iphdr ip;
	struct udphdr udp;
	__be32 lisp[2];
};

/* Encapsulate the IPv4 packet at offset l2 (0 on a TUN device, 14 after an
 * Ethernet header); TC_ACT_OK hands it on unchanged to the TUN (the slow path). */
static __always_inline int encap(struct __sk_buff *skb, __u32 l2)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + l2;
	__u32 zero = 0;

	if ((void *)(ip + 1) > data_end || ip->version != 4) {
		count(LISP_CTR_PUNT_OTHER);  /* IPv6 inner packets: the TUN path */
		return TC_ACT_OK;
	}
	if (ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_MF_OFFSET))) {
		count(LISP_CTR_PUNT_OTHER);  /* IP options, fragments */
		return TC_ACT_OK;
	}
	struct lisp_config *config = bpf_map_lookup_elem(&lisp_config, &zero);
	if (!config || !(config->families & 1)) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}

	/* The instance-id is that of the TUN device (its routing domain). */
	__u32 ifindex = skb->ifindex;
	__u32 *tun_iid = bpf_map_lookup_elem(&lisp_tun_iids, &ifindex);
	if (!tun_iid) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	/* Only packets from one of the instance's EID prefixes. */
	struct lisp_lpm_key key = {.prefixlen = 96, .iid = bpf_htonl(*tun_iid), .version = bpf_htonl(4)};
	__builtin_memcpy(key.addr, &ip->saddr, 4);
	struct lisp_eid_value *source = bpf_map_lookup_elem(&lisp_local_eids, &key);
	if (!source || !(source->flags & LISP_EID_SOURCE)) {
		count(LISP_CTR_PUNT_OTHER);  /* not an EID source (or a Proxy-ITR's): Python decides */
		return TC_ACT_OK;
	}
	__builtin_memcpy(key.addr, &ip->daddr, 4);
	struct lisp_mc_value *entry = bpf_map_lookup_elem(&lisp_map_cache, &key);
	if (!entry) {
		count(LISP_CTR_MISS);
		return TC_ACT_OK;
	}
	if (entry->action == LISP_ACTION_DROP) {
		count(LISP_CTR_DROP);
		return TC_ACT_SHOT;
	}
	if (entry->action != LISP_ACTION_ENCAP) {
		count(LISP_CTR_PUNT_ACTION);
		return TC_ACT_OK;
	}
	if (!entry->used)  /* written once per sweep, not per packet */
		entry->used = 1;

	__u8 *l4 = (__u8 *)(ip + 1);
	int has_ports = ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP ||
			ip->protocol == IPPROTO_SCTP;
	if (has_ports && (void *)(l4 + 4) > data_end) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	__u32 hash = flow_hash4(ip, l4, has_ports);
	int chosen = choose_rloc(entry, hash, config->families);
	if (chosen < 0 || entry->rlocs[chosen & (LISP_MAX_RLOCS - 1)].version != 4) {
		count(LISP_CTR_PUNT_ACTION);  /* no usable RLOC (Python counts the drop), IPv6 outer */
		return TC_ACT_OK;
	}
	const struct lisp_rloc *rloc = &entry->rlocs[chosen & (LISP_MAX_RLOCS - 1)];
	__u16 inner_len = bpf_ntohs(ip->tot_len);
	__u32 iid = bpf_ntohl(key.iid);

	struct outer4 outer = {};
	outer.ip.version = 4;
	outer.ip.ihl = 5;
	outer.ip.tot_len = bpf_htons(inner_len + OUTER4_LEN);
	outer.ip.frag_off = bpf_htons(IP_DF);
	outer.ip.ttl = 64;
	outer.ip.protocol = IPPROTO_UDP;
	__builtin_memcpy(&outer.ip.saddr, config->rloc4, 4);
	__builtin_memcpy(&outer.ip.daddr, rloc->addr, 4);
	outer.ip.check = ipv4_checksum(&outer.ip);
	outer.udp.source = bpf_htons(SOURCE_PORT_BASE + (hash & 0x3fff));
	outer.udp.dest = bpf_htons(LISP_DATA_PORT);
	outer.udp.len = bpf_htons(inner_len + sizeof(struct udphdr) + LISP_HEADER_LEN);
	__u32 nonce = bpf_get_prandom_u32() & 0xffffff;
	if (iid) {
		outer.lisp[0] = bpf_htonl(((FLAG_N | FLAG_L | FLAG_I) << 24) | nonce);
		outer.lisp[1] = bpf_htonl((iid << 8) | (entry->lsb & 0xff));
	} else {
		outer.lisp[0] = bpf_htonl(((FLAG_N | FLAG_L) << 24) | nonce);
		outer.lisp[1] = bpf_htonl(entry->lsb);
	}

	struct bpf_fib_lookup fib = {};
	if (config->redirect) {
		fib.family = AF_INET;
		fib.ipv4_src = outer.ip.saddr;
		fib.ipv4_dst = outer.ip.daddr;
		fib.tot_len = inner_len + OUTER4_LEN;
		fib.ifindex = skb->ifindex;
		/* The main table, not the rules: the outer packet is not the tenant's.
		 * The kernel wants forwarding on at the TUN device for this (the engine sets it). */
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT) !=
		    BPF_FIB_LKUP_RET_SUCCESS) {
			count(LISP_CTR_PUNT_ROUTE);  /* no neighbour yet, too big: the TUN path */
			return TC_ACT_OK;
		}
	}
	/* Room for the outer headers, and an Ethernet header in front of them. */
	if (l2 ? bpf_skb_adjust_room(skb, OUTER4_LEN, BPF_ADJ_ROOM_MAC, 0)
	       : bpf_skb_change_head(skb, ETH_HLEN + OUTER4_LEN, 0)) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &outer, sizeof(outer), 0))
		return TC_ACT_SHOT;
	count(LISP_CTR_ENCAP);
	if (!config->redirect)
		return TC_ACT_OK;
	struct ethhdr eth = {.h_proto = bpf_htons(ETH_P_IP)};
	__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

SEC("tc")
int lisp_encap_tun(struct __sk_buff *skb)
{
	return encap(skb, 0);
}

SEC("tc")
int lisp_encap_eth(struct __sk_buff *skb)
{
	return encap(skb, ETH_HLEN);
}

/* Decapsulate IPv4-in-IPv4 LISP to our RLOC whose inner destination is a local
 * EID of its instance-id, into that instance's TUN device (TC_ACT_OK: the stack
 * has it, and the Python ETR on port 4341 if it is LISP). */
SEC("tc")
int lisp_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct outer4 *outer = data + ETH_HLEN;
	struct iphdr *inner = (void *)(outer + 1);
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((void *)(outer + 1) > data_end || outer->ip.version != 4 || outer->ip.ihl != 5 ||
	    outer->ip.protocol != IPPROTO_UDP || outer->udp.dest != bpf_htons(LISP_DATA_PORT) ||
	    (outer->ip.frag_off & bpf_htons(IP_MF_OFFSET)))
		return TC_ACT_OK;
	struct lisp_config *config = bpf_map_lookup_elem(&lisp_config, &zero);
	if (!config || __builtin_memcmp(&outer->ip.daddr, config->rloc4, 4) != 0)
		return TC_ACT_OK;
	if ((void *)(inner + 1) > data_end || inner->version != 4) {
		count(LISP_CTR_DECAP_PASS);  /* IPv6 inside: the Python ETR */
		return TC_ACT_OK;
	}
	__u32 flags = bpf_ntohl(outer->lisp[0]) >> 24;
	__u32 iid = (flags & FLAG_I) ? bpf_ntohl(outer->lisp[1]) >> 8 : 0;
	struct lisp_lpm_key key = {.prefixlen = 96, .iid = bpf_htonl(iid), .version = bpf_htonl(4)};
	__builtin_memcpy(key.addr, &inner->daddr, 4);
	struct lisp_eid_value *eid = bpf_map_lookup_elem(&lisp_local_eids, &key);
	if (!eid || !(eid->flags & LISP_EID_DELIVER)) {
		count(LISP_CTR_DECAP_PASS);  /* not our EID: the Python ETR counts the drop */
		return TC_ACT_OK;
	}
	if (bpf_skb_adjust_room(skb, -(int)OUTER4_LEN, BPF_ADJ_ROOM_MAC, 0)) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	count(LISP_CTR_DECAP);
	if (!config->redirect)
		return TC_ACT_OK;
	return bpf_redirect(eid->ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
