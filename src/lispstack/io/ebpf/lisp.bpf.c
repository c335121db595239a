// SPDX-License-Identifier: GPL-2.0
/* The LISP data plane's fast path (RFC 9300) as tc programs; the Python xTR is its slow path.
 *
 * lisp_encap_tun  tc egress of the xTR's TUN devices: what policy routing sends
 *                 there (from local EIDs, originated or routed) is looked up in
 *                 the map-cache and encapsulated to an RLOC (outer IPv4 or IPv6
 *                 + UDP 4341 + LISP header, inner IPv4 or IPv6), then sent out
 *                 with bpf_redirect after bpf_fib_lookup. Anything else goes on
 *                 into the TUN device, to the Python ITR: misses (it sends the
 *                 Map-Request), actions that are its to take, fragments, IP
 *                 options, IPv6 extension headers, too big.
 * lisp_encap_eth  the same for a packet with an Ethernet header (used by
 *                 bpf_prog_test_run, which always hands one over).
 * lisp_decap      tc ingress of the RLOC-facing interfaces: UDP to port 4341
 *                 of any of our local RLOCs (lisp_local_rlocs, lisp_local_rlocs6;
 *                 over IPv6 with a correct UDP checksum) whose inner IPv4 or
 *                 IPv6 destination is a local EID prefix of the
 *                 header's instance-id loses its outer headers and enters
 *                 that instance's TUN device, as if the Python ETR had
 *                 written it there. The rest goes up the stack untouched.
 *
 * A Proxy-ITR's TUN takes packets from anyone to its attracted EID prefixes
 * (encap_pitr below); a PETR's RLOCs take packets for no local EID and route
 * them natively (decap_petr); an ITR encapsulates to its PETRs where its
 * map-cache says so (LISP_ACTION_PETR).
 *
 * The RLOC choice and the flow hash are those of core/encapsulation.py, so
 * both engines send a flow to the same RLOC from the same UDP source port.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
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
#define FLAG_V 0x10
#define FLAG_I 0x08
#define IP_DF 0x4000
#define AF_INET 2
#define IP_MF_OFFSET 0x3fff
#define AF_INET6 10
#define OUTER6_LEN (sizeof(struct ipv6hdr) + sizeof(struct udphdr) + LISP_HEADER_LEN)
#define CSUM_CHUNK 256   /* bytes summed per bpf_csum_diff call (it takes 512 at most) */
#define CSUM_CHUNKS 40   /* so IPv6 UDP checksums cover datagrams of up to 10240 bytes */
/* bpf_skb_adjust_room: the IP version after decapsulation (Linux 6.3; sets skb->protocol). */
#define ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

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

/* The ETR's local IPv4 RLOCs (big-endian address) -> LISP_RLOC_* flags: a
 * multihomed ETR decapsulates packets to any of them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} lisp_local_rlocs SEC(".maps");

/* The same for IPv6 RLOCs: the 16 bytes of the address -> LISP_RLOC_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct in6_addr);
	__type(value, __u32);
	__uint(max_entries, 64);
} lisp_local_rlocs6 SEC(".maps");

/* Room to read a packet's bytes into for bpf_csum_diff, which sums a buffer, not the skb. */
struct lisp_csum_chunk {
	__u8 bytes[CSUM_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lisp_csum_chunk);
	__uint(max_entries, 1);
} lisp_csum_scratch SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lisp_used);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 100000 / LISP_SLOTS_PER_WORD);  /* the loader: map-cache-limit / 8 */
} lisp_used SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);
	__type(value, struct lisp_iid_counters);
	__uint(max_entries, 256);
} lisp_iid_counters SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&lisp_counters, &index);

	if (value)
		*value += 1;
}

/* zlib's CRC-32 (reflected, polynomial 0xEDB88320), as flow_hash uses: a byte
 * at a time through the usual 256-entry table (in .rodata). */
static const __u32 crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
	0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
	0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
	0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
	0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
	0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
	0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
	0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
	0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
	0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
	0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
	0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
	0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
	0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
	0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
	0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
	0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
	0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
	0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

static __always_inline __u32 crc32(__u32 crc, const __u8 *data, int len)
{
	for (int i = 0; i < len; i++)
		crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
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

/* The same for IPv6: source, destination, next header, and the ports of TCP/UDP/SCTP
 * (extension headers never reach the hash here: they are punted). */
static __always_inline __u32 flow_hash6(const struct ipv6hdr *ip6, const __u8 *ports, int has_ports)
{
	__u32 crc = crc32(0xffffffff, (const __u8 *)&ip6->saddr, 32);

	crc = crc32(crc, &ip6->nexthdr, 1);
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

/* -------------------------------------- used slots, proxy xTR, per-instance counters */

/* Set the entry's used byte (a plain byte store: CPUs marking other slots of the same
 * word do not undo it), once a sweep rather than per packet. */
static __always_inline void mark_used(__u32 slot)
{
	__u32 index = slot / LISP_SLOTS_PER_WORD;
	struct lisp_used *word = bpf_map_lookup_elem(&lisp_used, &index);

	if (word && !word->used[slot % LISP_SLOTS_PER_WORD])
		word->used[slot % LISP_SLOTS_PER_WORD] = 1;
}

/* Count into the instance-id's counters, when the loader put it in (no entry is ever
 * created here: the map holds the node's instance-ids only). */
static __always_inline void count_iid(__u32 iid, int decapsulated)
{
	struct lisp_iid_counters *counters = bpf_map_lookup_elem(&lisp_iid_counters, &iid);

	if (!counters)
		return;
	if (decapsulated)
		counters->decapsulated += 1;
	else
		counters->encapsulated += 1;
}

/* Is the destination in `key` (instance-id 0 only) inside an attracted EID prefix of a
 * Proxy-ITR (RFC 6832), so that a packet from a source that is none of ours is still ours
 * to encapsulate? The Python ITR answers the same for its packets (Itr.admit). */
static __always_inline int encap_pitr(const struct lisp_lpm_key *key)
{
	struct lisp_eid_value *destination;

	if (key->iid)  /* an instance's TUN: a proxy attracts into instance-id 0 only */
		return 0;
	destination = bpf_map_lookup_elem(&lisp_local_eids, key);
	return destination && (destination->flags & LISP_EID_ATTRACTED);
}

/* What one encapsulated packet counts: always encap.packets and its instance-id's;
 * pitr.packets for a proxy's, encap.to-petr when it went to a PETR (as the Python ITR). */
static __always_inline void count_encap(__u32 iid, int proxied, int to_petr)
{
	count(LISP_CTR_ENCAP);
	if (proxied)
		count(LISP_CTR_PITR);
	if (to_petr)
		count(LISP_CTR_TO_PETR);
	count_iid(iid, 0);
}

/* A Proxy-ETR's packet (RFC 6832): LISP to one of the PETR's RLOCs whose inner IPv4
 * destination is no local EID. Instance-id 0 only: native routing is the main routing
 * domain's, another instance-id is the Python PETR's to judge. The outer headers go and
 * the kernel's FIB (rules and tables, as for the Python PETR's raw socket) says where the
 * inner packet goes: out of that interface (bpf_redirect), to the next hop's MAC. The
 * stack's forwarding path is not taken: no rp_filter or martian check can drop a packet
 * from a remote EID, and the packet leaves as the Python PETR sends it (TTL unchanged).
 * No route or neighbour yet, too big, forwarding off at this interface, local, or a route
 * into one of our TUNs (a PITR on the same node): the Python PETR takes it. */
static __always_inline int decap_petr(struct __sk_buff *skb, __u32 rloc_flags, __u32 iid,
				      __u32 redirect)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *inner = data + ETH_HLEN + sizeof(struct outer4);
	struct bpf_fib_lookup fib = {};

	if (!(rloc_flags & LISP_RLOC_PETR) || iid || (void *)(inner + 1) > data_end) {
		count(LISP_CTR_DECAP_PASS);  /* not our EID: the Python ETR (or PETR) decides */
		return TC_ACT_OK;
	}
	if (redirect) {
		fib.family = AF_INET;
		fib.tos = inner->tos;
		fib.l4_protocol = inner->protocol;
		fib.tot_len = bpf_ntohs(inner->tot_len);
		fib.ipv4_src = inner->saddr;
		fib.ipv4_dst = inner->daddr;
		fib.ifindex = skb->ifindex;
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS) {
			count(LISP_CTR_PUNT_ROUTE);
			return TC_ACT_OK;
		}
		__u32 out = fib.ifindex;
		if (bpf_map_lookup_elem(&lisp_tun_iids, &out)) {
			count(LISP_CTR_PUNT_ROUTE);
			return TC_ACT_OK;
		}
	}
	if (bpf_skb_adjust_room(skb, -(int)OUTER4_LEN, BPF_ADJ_ROOM_MAC, 0)) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	count(LISP_CTR_PETR);
	if (!redirect)
		return TC_ACT_OK;
	if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

/* ---------------------------------------------------------------- IPv6
 * Inner IPv6 packets, IPv6 outer headers (either inner family) and their
 * decapsulation. The outer IPv6 header is core/encapsulation.outer_packet's:
 * hop limit 64, traffic class and flow label 0, and a real UDP checksum over
 * the whole datagram (RFC 8200 section 8.1). A zero checksum (RFC 6935/6936)
 * would be allowed for LISP (RFC 9300 section 5.3), but Linux drops it unless
 * the receiving socket opts in, and Wireshark flags it: both planes send the
 * real one, and the decapsulation program checks it.
 */

struct outer6 {
	struct ipv6hdr ip;
	struct udphdr udp;
	__be32 lisp[2];
};

/* The IPv6 pseudo-header of the UDP checksum (RFC 8200 section 8.1). */
struct pseudo6 {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be32 length;
	__be32 next_header;
};

/* The internet checksum of a one's complement sum: folded to 16 bits, complemented. */
static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* `sum` plus the one's complement sum (RFC 1071, 32 bits unfolded) of `len` bytes of
 * the packet from `offset`: whole CSUM_CHUNK-byte chunks, then the tail (padded with
 * zeros to a 32-bit word, which an odd length needs); -1: longer than CSUM_CHUNKS
 * chunks, or not there. One fork per chunk keeps the verifier's work linear. */
static __noinline __s64 packet_sum(struct __sk_buff *skb, __u32 offset, __u32 len, __u32 sum)
{
	__u32 zero = 0, chunks = len / CSUM_CHUNK;
	struct lisp_csum_chunk *chunk = bpf_map_lookup_elem(&lisp_csum_scratch, &zero);
	__s64 next;

	if (!chunk || chunks >= CSUM_CHUNKS)
		return -1;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < CSUM_CHUNKS && i < chunks; i++) {
		if (bpf_skb_load_bytes(skb, offset, chunk->bytes, CSUM_CHUNK))
			return -1;
		next = bpf_csum_diff(0, 0, (__be32 *)chunk->bytes, CSUM_CHUNK, sum);
		if (next < 0)
			return -1;
		sum = next;
		offset += CSUM_CHUNK;
	}
	__u64 tail = len % CSUM_CHUNK;
	__u64 words = (tail + 3) & ~3ULL;  /* bpf_csum_diff sums whole 32-bit words */

	asm volatile("" : "+r"(tail), "+r"(words));  /* keeps the checks below for the verifier */
	if (tail == 0 || tail >= CSUM_CHUNK || words < 4 || words > CSUM_CHUNK)
		return tail ? -1 : sum;
	*(__u32 *)&chunk->bytes[words - 4] = 0;  /* the bytes past the tail count as zeros */
	if (bpf_skb_load_bytes(skb, offset, chunk->bytes, tail))
		return -1;
	return bpf_csum_diff(0, 0, (__be32 *)chunk->bytes, words, sum);
}

/* The IPv4 pseudo-header of a TCP or UDP checksum (RFC 768). */
struct pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 protocol;
	__be16 length;
};

/* packet_sum over an inner IPv4 or IPv6 packet (`len` bytes at `offset`, from `sum`) as it
 * will leave. Its TCP or UDP checksum may not be written yet: a packet routed from a
 * host whose device offloads checksums (CHECKSUM_PARTIAL) gets it from the device that
 * sends it out, after this program. Linux leaves the folded pseudo-header sum P in the
 * field meanwhile, and once written the segment sums to -P; such a segment (its
 * checksum does not verify, the field holds P) is counted as -P, so the outer checksum
 * holds for the packet that leaves, and is the one the Python ITR (to which the TUN
 * device hands the packet with its checksum written) computes. The decapsulation
 * program checks the outer checksum the same way. -1: see packet_sum. */
static __noinline __s64 inner_sum(struct __sk_buff *skb, __u32 offset, __u32 len, __u32 sum)
{
	__u8 header[40];
	__u32 pseudo[10] = {};
	__u32 ip_len, at, pseudo_len;
	__u16 field;

	if (len < sizeof(struct iphdr) || bpf_skb_load_bytes(skb, offset, header, sizeof(struct iphdr)))
		return -1;
	if (header[0] >> 4 == 4) {
		struct pseudo4 *p = (void *)pseudo;

		ip_len = sizeof(struct iphdr);
		p->protocol = header[9];
		p->length = bpf_htons(len - ip_len);
		__builtin_memcpy(&p->saddr, &header[12], 8);
		pseudo_len = sizeof(*p);
	} else {
		struct pseudo6 *p = (void *)pseudo;

		ip_len = sizeof(struct ipv6hdr);
		if (len < ip_len || bpf_skb_load_bytes(skb, offset, header, sizeof(header)))
			return -1;
		p->next_header = bpf_htonl(header[6]);
		p->length = bpf_htonl(len - ip_len);
		__builtin_memcpy(&p->saddr, &header[8], 32);
		pseudo_len = sizeof(*p);
	}
	__u8 protocol = header[0] >> 4 == 4 ? header[9] : header[6];
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
		return packet_sum(skb, offset, len, sum);
	at = ip_len + (protocol == IPPROTO_TCP ? 16 : 6);
	if (len < at + 2 || bpf_skb_load_bytes(skb, offset + at, &field, 2))
		return packet_sum(skb, offset, len, sum);
	__s64 head = packet_sum(skb, offset, ip_len, sum);
	__s64 segment = packet_sum(skb, offset + ip_len, len - ip_len, 0);
	__s64 pseudo_sum = bpf_csum_diff(0, 0, (__be32 *)pseudo, pseudo_len == 12 ? 12 : 40, 0);
	if (head < 0 || segment < 0 || pseudo_sum < 0)
		return -1;
	if (csum_fold(segment + pseudo_sum) != 0 && field == (__u16)~csum_fold(pseudo_sum))
		return head + csum_fold(pseudo_sum);  /* not written yet: counted as written */
	return head + segment;
}

/* The LISP header (RFC 9300 section 5.3) as core/encapsulation.data_header writes it:
 * N with a fresh nonce, L with the locator-status-bits, I with the instance-id. */
static __always_inline void lisp_header(__be32 *lisp, __u32 iid, __u32 lsb)
{
	__u32 nonce = bpf_get_prandom_u32() & 0xffffff;

	if (iid) {
		lisp[0] = bpf_htonl(((FLAG_N | FLAG_L | FLAG_I) << 24) | nonce);
		lisp[1] = bpf_htonl((iid << 8) | (lsb & 0xff));
	} else {
		lisp[0] = bpf_htonl(((FLAG_N | FLAG_L) << 24) | nonce);
		lisp[1] = bpf_htonl(lsb);
	}
}

/* Make room for `outer_len` bytes of outer headers in front of the inner packet (and
 * an Ethernet header on a TUN device, which has none), write them, count the packet
 * (count_encap) and send it out of the interface bpf_fib_lookup found (`fib`; NULL: a
 * test run, return it). TC_ACT_OK without a change when there is no room. */
static __always_inline int encap_send(struct __sk_buff *skb, __u32 l2, const void *outer,
				      __u32 outer_len, const struct bpf_fib_lookup *fib, __u16 eth_proto,
				      __u32 iid, int proxied, int to_petr)
{
	if (l2 ? bpf_skb_adjust_room(skb, outer_len, BPF_ADJ_ROOM_MAC, 0)
	       : bpf_skb_change_head(skb, ETH_HLEN + outer_len, 0)) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	if (bpf_skb_store_bytes(skb, ETH_HLEN, outer, outer_len, 0))
		return TC_ACT_SHOT;
	count_encap(iid, proxied, to_petr);
	if (!fib)
		return TC_ACT_OK;
	struct ethhdr eth = {.h_proto = bpf_htons(eth_proto)};
	__builtin_memcpy(eth.h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib->smac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib->ifindex, 0);
}

/* Encapsulate the inner packet (IPv4 or IPv6, `inner_len` bytes at offset l2) in IPv6
 * to `rloc` (`proxied`, `to_petr`: see count_encap). Too big for rloc-path-mtu, no
 * route: the TUN path (which answers ICMP). */
static __always_inline int encap_outer6(struct __sk_buff *skb, __u32 l2,
					const struct lisp_config *config,
					const struct lisp_rloc *rloc, __u32 lsb, __u32 iid,
					__u32 hash, __u32 inner_len, int proxied, int to_petr)
{
	if ((config->max_inner6 && inner_len > config->max_inner6) || skb->gso_segs > 1) {
		count(LISP_CTR_PUNT_OTHER);  /* too big, or segments to be: the TUN device cuts them */
		return TC_ACT_OK;
	}
	__u32 udp_len = inner_len + sizeof(struct udphdr) + LISP_HEADER_LEN;
	struct outer6 outer = {};
	outer.ip.version = 6;
	outer.ip.payload_len = bpf_htons(udp_len);
	outer.ip.nexthdr = IPPROTO_UDP;
	outer.ip.hop_limit = 64;
	__builtin_memcpy(&outer.ip.saddr, config->rloc6, 16);
	__builtin_memcpy(&outer.ip.daddr, rloc->addr, 16);
	outer.udp.source = bpf_htons(SOURCE_PORT_BASE + (hash & 0x3fff));
	outer.udp.dest = bpf_htons(LISP_DATA_PORT);
	outer.udp.len = outer.ip.payload_len;
	lisp_header(outer.lisp, iid, lsb);

	struct pseudo6 pseudo = {.length = bpf_htonl(udp_len), .next_header = bpf_htonl(IPPROTO_UDP)};
	pseudo.saddr = outer.ip.saddr;
	pseudo.daddr = outer.ip.daddr;
	__s64 sum = bpf_csum_diff(0, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)&outer.udp, sizeof(outer.udp) + LISP_HEADER_LEN, sum);
	sum = sum < 0 ? sum : inner_sum(skb, l2, inner_len, sum);
	if (sum < 0) {
		count(LISP_CTR_PUNT_OTHER);  /* bigger than the kernel sums: the TUN path */
		return TC_ACT_OK;
	}
	outer.udp.check = csum_fold(sum) ?: 0xffff;  /* 0 is sent as 0xffff (RFC 768) */

	struct bpf_fib_lookup fib = {};
	if (config->redirect) {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, config->rloc6, 16);
		__builtin_memcpy(fib.ipv6_dst, rloc->addr, 16);
		fib.tot_len = inner_len + OUTER6_LEN;
		fib.ifindex = skb->ifindex;
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT) !=
		    BPF_FIB_LKUP_RET_SUCCESS) {
			count(LISP_CTR_PUNT_ROUTE);
			return TC_ACT_OK;
		}
	}
	return encap_send(skb, l2, &outer, OUTER6_LEN, config->redirect ? &fib : 0, ETH_P_IPV6,
			  iid, proxied, to_petr);
}

/* Encapsulate the inner packet (IPv4 or IPv6) in IPv4 to `rloc`, as the Python ITR
 * does: DF, TTL 64, identification and UDP checksum 0. Too big for rloc-path-mtu (the
 * TUN path fragments or sends ICMP), segments to be (the TUN device cuts them), no
 * route or neighbour yet: the TUN path. */
static __always_inline int encap_outer4(struct __sk_buff *skb, __u32 l2,
					const struct lisp_config *config,
					const struct lisp_rloc *rloc, __u32 lsb, __u32 iid,
					__u32 hash, __u32 inner_len, int proxied, int to_petr)
{
	if ((config->max_inner4 && inner_len > config->max_inner4) || skb->gso_segs > 1) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
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
	lisp_header(outer.lisp, iid, lsb);

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
	return encap_send(skb, l2, &outer, OUTER4_LEN, config->redirect ? &fib : 0, ETH_P_IP,
			  iid, proxied, to_petr);
}

/* IPv6 next headers that are extension headers (RFC 8200 section 4, RFC 7045): the
 * TUN path takes such packets (and fragments), as for IPv4 options. */
static __always_inline int extension_header(__u8 next)
{
	return next == 0 || next == 43 || next == 44 || next == 51 || next == 60 || next == 135 ||
	       next == 139 || next == 140 || next == 253 || next == 254;
}

/* Decapsulate the inner packet (IPv4 or IPv6) behind `outer_len` bytes of outer
 * headers (after the Ethernet header) into the TUN device of its instance-id when its
 * destination is a local EID there (lisp_decap's steps, for either inner version). */
static __always_inline int decap_inner(struct __sk_buff *skb, const struct lisp_config *config,
				       __u32 outer_len, __u32 rloc_flags)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be32 *lisp = data + ETH_HLEN + outer_len - LISP_HEADER_LEN;
	__u8 *inner = data + ETH_HLEN + outer_len;
	struct lisp_lpm_key key = {};
	__u64 version_flag;

	if ((void *)(inner + sizeof(struct iphdr)) > data_end) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	if (inner[0] >> 4 == 4) {
		key.prefixlen = 96;
		key.version = bpf_htonl(4);
		__builtin_memcpy(key.addr, &((struct iphdr *)inner)->daddr, 4);
		version_flag = ADJ_ROOM_DECAP_L3_IPV4;
	} else if (inner[0] >> 4 == 6 && (void *)(inner + sizeof(struct ipv6hdr)) <= data_end) {
		key.prefixlen = 192;
		key.version = bpf_htonl(6);
		__builtin_memcpy(key.addr, &((struct ipv6hdr *)inner)->daddr, 16);
		version_flag = ADJ_ROOM_DECAP_L3_IPV6;
	} else {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	__u32 flags = bpf_ntohl(lisp[0]) >> 24;
	if (flags & FLAG_V) {
		count(LISP_CTR_DECAP_PASS);  /* map-versions: the Python ETR checks them */
		return TC_ACT_OK;
	}
	__u32 iid = (flags & FLAG_I) ? bpf_ntohl(lisp[1]) >> 8 : 0;
	key.iid = bpf_htonl(iid);
	struct lisp_eid_value *eid = bpf_map_lookup_elem(&lisp_local_eids, &key);
	if (!eid || !(eid->flags & LISP_EID_DELIVER)) {
		if (outer_len == OUTER4_LEN && version_flag == ADJ_ROOM_DECAP_L3_IPV4)
			return decap_petr(skb, rloc_flags, iid, config->redirect);
		count(LISP_CTR_DECAP_PASS);  /* not our EID: the Python ETR (or PETR) decides */
		return TC_ACT_OK;
	}
	/* The version flag sets skb->protocol to the inner packet's. */
	if (bpf_skb_adjust_room(skb, -(int)outer_len, BPF_ADJ_ROOM_MAC, version_flag)) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	count(LISP_CTR_DECAP);
	count_iid(iid, 1);
	if (!config->redirect)
		return TC_ACT_OK;
	return bpf_redirect(eid->ifindex, BPF_F_INGRESS);
}

/* lisp_decap for an IPv6 outer header: UDP 4341 to one of our IPv6 RLOCs, without
 * extension headers, whose UDP checksum is right. A zero or wrong checksum goes up
 * the stack, whose rules apply (it drops both unless a socket opted in). */
static __always_inline int decap_outer6(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct outer6 *outer = data + ETH_HLEN;
	__u32 zero = 0;

	if ((void *)(outer + 1) > data_end || outer->ip.version != 6 ||
	    outer->ip.nexthdr != IPPROTO_UDP || outer->udp.dest != bpf_htons(LISP_DATA_PORT))
		return TC_ACT_OK;
	struct pseudo6 pseudo = {.saddr = outer->ip.saddr, .daddr = outer->ip.daddr};
	__u32 *rloc = bpf_map_lookup_elem(&lisp_local_rlocs6, &pseudo.daddr);
	struct lisp_config *config = bpf_map_lookup_elem(&lisp_config, &zero);
	if (!rloc || !(*rloc & LISP_RLOC_DECAP) || !config)
		return TC_ACT_OK;
	__u32 udp_len = bpf_ntohs(outer->udp.len);
	if (!outer->udp.check || udp_len != bpf_ntohs(outer->ip.payload_len)) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	pseudo.length = bpf_htonl(udp_len);
	pseudo.next_header = bpf_htonl(IPPROTO_UDP);
	__u32 headers = ETH_HLEN + OUTER6_LEN;
	__s64 sum = bpf_csum_diff(0, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
	__s64 outer_sum = packet_sum(skb, ETH_HLEN + sizeof(struct ipv6hdr), OUTER6_LEN -
				     sizeof(struct ipv6hdr), sum < 0 ? 0 : sum);
	__s64 inner = udp_len > OUTER6_LEN - sizeof(struct ipv6hdr) ?
		inner_sum(skb, headers, udp_len - (OUTER6_LEN - sizeof(struct ipv6hdr)), 0) : -1;
	if (sum < 0 || outer_sum < 0 || inner < 0 || csum_fold(outer_sum + inner)) {
		count(LISP_CTR_DECAP_PASS);
		return TC_ACT_OK;
	}
	return decap_inner(skb, config, OUTER6_LEN, *rloc);
}

/* Encapsulate the IPv4 or IPv6 packet at offset l2 (0 on a TUN device, 14 after an
 * Ethernet header); TC_ACT_OK hands it on unchanged to the TUN (the slow path). */
static __always_inline int encap(struct __sk_buff *skb, __u32 l2)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + l2;
	struct ipv6hdr *ip6 = data + l2;
	__u32 zero = 0;

	if ((void *)(ip + 1) > data_end) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	int v6 = ip->version == 6;
	if (v6 ? (void *)(ip6 + 1) > data_end || extension_header(ip6->nexthdr)
	       : ip->version != 4 || ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_MF_OFFSET))) {
		count(LISP_CTR_PUNT_OTHER);  /* IP options, fragments, IPv6 extension headers */
		return TC_ACT_OK;
	}
	struct lisp_config *config = bpf_map_lookup_elem(&lisp_config, &zero);
	if (!config || !config->families) {
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
	/* Only packets from one of the instance's EID prefixes (or to a PITR's). */
	struct lisp_lpm_key key = {
		.prefixlen = v6 ? 192 : 96, .iid = bpf_htonl(*tun_iid), .version = bpf_htonl(v6 ? 6 : 4)};
	if (v6)
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
	else
		__builtin_memcpy(key.addr, &ip->saddr, 4);
	struct lisp_eid_value *source = bpf_map_lookup_elem(&lisp_local_eids, &key);
	int proxied = !source || !(source->flags & LISP_EID_SOURCE);
	if (v6)
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
	else
		__builtin_memcpy(key.addr, &ip->daddr, 4);
	if (proxied && !encap_pitr(&key)) {
		count(LISP_CTR_PUNT_OTHER);  /* not an EID source, nor to a PITR's prefix: Python decides */
		return TC_ACT_OK;
	}
	struct lisp_mc_value *entry = bpf_map_lookup_elem(&lisp_map_cache, &key);
	if (!entry) {
		count(LISP_CTR_MISS);
		return TC_ACT_OK;
	}
	if (entry->action == LISP_ACTION_DROP) {
		count(LISP_CTR_DROP);
		return TC_ACT_SHOT;
	}
	if (entry->action != LISP_ACTION_ENCAP && entry->action != LISP_ACTION_PETR) {
		count(LISP_CTR_PUNT_ACTION);
		return TC_ACT_OK;
	}
	mark_used(entry->slot);

	__u8 protocol = v6 ? ip6->nexthdr : ip->protocol;
	__u8 *l4 = v6 ? (__u8 *)(ip6 + 1) : (__u8 *)(ip + 1);
	int has_ports = protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP;
	if (has_ports && (void *)(l4 + 4) > data_end) {
		count(LISP_CTR_PUNT_OTHER);
		return TC_ACT_OK;
	}
	__u32 hash = v6 ? flow_hash6(ip6, l4, has_ports) : flow_hash4(ip, l4, has_ports);
	int chosen = choose_rloc(entry, hash, config->families);
	if (chosen < 0) {
		count(LISP_CTR_PUNT_ACTION);  /* no usable RLOC: Python counts the drop */
		return TC_ACT_OK;
	}
	const struct lisp_rloc *rloc = &entry->rlocs[chosen & (LISP_MAX_RLOCS - 1)];
	__u32 inner_len = v6 ? sizeof(*ip6) + bpf_ntohs(ip6->payload_len) : bpf_ntohs(ip->tot_len);
	__u32 iid = bpf_ntohl(key.iid);
	int to_petr = entry->action == LISP_ACTION_PETR;
	if (rloc->version == 6)
		return encap_outer6(skb, l2, config, rloc, entry->lsb, iid, hash, inner_len, proxied,
				    to_petr);
	return encap_outer4(skb, l2, config, rloc, entry->lsb, iid, hash, inner_len, proxied,
			    to_petr);
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

/* Decapsulate LISP over IPv4 (IPv6 outer: decap_outer6) to one of our RLOCs whose inner
 * destination is a local EID of its instance-id, into that instance's TUN device; a
 * PETR's packets to non-LISP destinations: decap_petr (TC_ACT_OK: the stack has it, and
 * the Python ETR or PETR on port 4341 if it is LISP). */
SEC("tc")
int lisp_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct outer4 *outer = data + ETH_HLEN;
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return decap_outer6(skb);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((void *)(outer + 1) > data_end || outer->ip.version != 4 || outer->ip.ihl != 5 ||
	    outer->ip.protocol != IPPROTO_UDP || outer->udp.dest != bpf_htons(LISP_DATA_PORT) ||
	    (outer->ip.frag_off & bpf_htons(IP_MF_OFFSET)))
		return TC_ACT_OK;
	__u32 daddr = outer->ip.daddr;
	__u32 *rloc = bpf_map_lookup_elem(&lisp_local_rlocs, &daddr);
	if (!rloc || !(*rloc & (LISP_RLOC_DECAP | LISP_RLOC_PETR)))
		return TC_ACT_OK;
	struct lisp_config *config = bpf_map_lookup_elem(&lisp_config, &zero);
	if (!config)
		return TC_ACT_OK;
	return decap_inner(skb, config, OUTER4_LEN, *rloc);
}

char LICENSE[] SEC("license") = "GPL";
