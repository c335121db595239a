/* The layouts the LISP eBPF programs share with Python (io/ebpf_layout.py).
 *
 * Defined once, here. io/ebpf_layout.py mirrors every struct with ctypes and
 * tests/unit/test_ebpf_layout.py compares sizes and field offsets with the
 * BTF that clang writes into the compiled object, so the two cannot drift.
 * Multi-byte addresses are in network byte order; other integers are host
 * order.
 */
#ifndef LISP_MAPS_H
#define LISP_MAPS_H

#include <linux/types.h>

#define LISP_MAX_RLOCS 8      /* RLOCs of one map-cache entry's best priority */
#define LISP_DATA_PORT 4341

/* What the encapsulation program does with a map-cache hit. */
enum lisp_action {
	LISP_ACTION_ENCAP = 0,    /* encapsulate to one of the RLOCs */
	LISP_ACTION_PUNT = 1,     /* leave it to the Python ITR (TUN slow path) */
	LISP_ACTION_DROP = 2,     /* drop and count (negative entry with a drop action) */
	LISP_ACTION_PETR = 3,     /* encapsulate to one of the RLOCs, which are the ITR's PETRs
	                           * (a natively-forward entry when PETRs take that traffic) */
};

/* Flags of a local EID prefix (struct lisp_eid_value.flags). */
#define LISP_EID_SOURCE   1   /* a database mapping: packets from it are ours to encapsulate */
#define LISP_EID_DELIVER  2   /* the ETR decapsulates packets to it */
#define LISP_EID_ATTRACTED 4  /* a PITR's attracted prefix (instance-id 0): packets to it,
                               * from any source, are ours to encapsulate (RFC 6832) */

/* Key of the two LPM tries (map-cache, local EIDs): instance-id, IP version, address.
 * prefixlen counts the 64 bits of iid and version, then the EID prefix length. */
struct lisp_lpm_key {
	__u32 prefixlen;
	__u32 iid;            /* big-endian, 24 bits used */
	__u32 version;        /* big-endian: 4 or 6 */
	__u8 addr[16];        /* IPv4 in the first 4 bytes */
};

/* One RLOC of a mapping, as core/encapsulation.RlocChoice. */
struct lisp_rloc {
	__u8 addr[16];        /* IPv4 in the first 4 bytes */
	__u8 version;         /* 4 or 6 */
	__u8 priority;        /* 255: not to be used */
	__u8 weight;
	__u8 reachable;       /* 0 once RLOC probing finds it down */
};

/* A map-cache entry: the action, and for ENCAP its RLOCs in record order. */
struct lisp_mc_value {
	__u8 action;          /* enum lisp_action */
	__u8 count;           /* RLOCs in rlocs[] */
	__u16 pad;
	__u32 lsb;            /* locator-status-bits */
	struct lisp_rloc rlocs[LISP_MAX_RLOCS];
	__u32 slot;           /* the entry's byte in lisp_used (LISP_NO_SLOT: none) */
};

/* Which encapsulating entries the program used: one byte per slot, set by the program
 * on a hit, read and cleared by Python through mmap once a sweep (RLOC probing and the
 * refresh before expiry need to know) without a map lookup per entry. An array element
 * is 8 bytes whatever its size, so each holds 8 slots. */
#define LISP_SLOTS_PER_WORD 8
#define LISP_NO_SLOT 0xffffffff
struct lisp_used {
	__u8 used[LISP_SLOTS_PER_WORD];
};

struct lisp_eid_value {
	__u32 flags;          /* LISP_EID_* */
	__u32 ifindex;        /* the instance-id's TUN device: where decapsulated packets go */
};

/* Flags of a local RLOC (value of the lisp_local_rlocs hash, keyed by the IPv4
 * address as a big-endian __u32, and of lisp_local_rlocs6, keyed by the 16 bytes of
 * the IPv6 address). */
#define LISP_RLOC_DECAP   1   /* the ETR decapsulates packets to it */
#define LISP_RLOC_PETR    2   /* the PETR decapsulates packets to it that are for no local
                               * EID (instance-id 0) and routes them natively (RFC 6832) */

/* The node's own RLOCs and switches (one entry, index 0). */
struct lisp_config {
	__u8 rloc4[4];        /* source of IPv4 outer headers (decapsulation takes any of
	                       * lisp_local_rlocs) */
	__u32 families;       /* bit 0: we have an IPv4 RLOC, bit 1: an IPv6 RLOC */
	__u32 redirect;       /* 1: send encapsulated packets out (bpf_fib_lookup + redirect);
	                       * 0: return them to the caller (bpf_prog_test_run) */
	__u32 max_inner4;     /* the largest inner packet that fits rloc-path-mtu in an IPv4
	                       * outer header (RFC 9300 7.1); bigger ones go to the TUN path,
	                       * which fragments or answers ICMP; 0: no limit */
	__u8 rloc6[16];       /* source of IPv6 outer headers */
	__u32 max_inner6;     /* max_inner4 for an IPv6 outer header */
};

/* Per-CPU counters, by index; Python reads them into `show statistics`. */
enum lisp_counter {
	LISP_CTR_ENCAP = 0,       /* ebpf.encap.packets */
	LISP_CTR_MISS,            /* ebpf.punt.miss: no map-cache entry */
	LISP_CTR_PUNT_ACTION,     /* ebpf.punt.entry: the entry's step is the ITR's */
	LISP_CTR_PUNT_OTHER,      /* ebpf.punt.unhandled: fragment, options, extension headers, not ours */
	LISP_CTR_PUNT_ROUTE,      /* ebpf.punt.route: no route/neighbour yet, or too big */
	LISP_CTR_DROP,            /* ebpf.drop.map-cache-drop */
	LISP_CTR_DECAP,           /* ebpf.decap.packets */
	LISP_CTR_DECAP_PASS,      /* ebpf.decap.passed: 4341 to us the program leaves to the stack */
	LISP_CTR_PITR,            /* ebpf.pitr.packets: encapsulated as a Proxy-ITR */
	LISP_CTR_TO_PETR,         /* ebpf.encap.to-petr: encapsulated to a PETR */
	LISP_CTR_PETR,            /* ebpf.petr.forwarded: decapsulated as a PETR, routed natively */
	LISP_CTR_MAX,
};

/* Per-CPU packet counts of one instance-id (value of lisp_iid_counters, keyed by the
 * instance-id in host order; the loader puts in the node's instance-ids, the programs
 * only count into those): Python adds them to iid.N.encapsulated/decapsulated. */
struct lisp_iid_counters {
	__u64 encapsulated;
	__u64 decapsulated;
};

#endif
