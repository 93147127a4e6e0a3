/*
 * rt_labels.h - key/value labels of the calling thread (labels.c,
 * cprof_do): the CPU, heap, mutex/block and trace recorders tag what
 * they record with the thread's label set, an id; the profile builders
 * (pbuild.c) turn the id back into labels.
 *
 * [AS-safe]: see rt_base.h.
 */
#ifndef CPROF_RT_LABELS_H
#define CPROF_RT_LABELS_H

#include <stdbool.h>
#include <stdint.h>

/* Sample labels: the calling thread's label set, as an id.  [AS-safe] */
uint32_t rt_labels_current(void);
void rt_labels_set_current(uint32_t id);    /* [AS-safe] */
/* The calling thread's label-set slot (its address is stable for the
 * thread's life): thread snapshots read other threads' labels through it. */
uint32_t *rt_labels_slot(void);
/* The set inherited by a thread the calling thread creates (0: none). */
uint32_t rt_labels_inherited(void);         /* [AS-safe] */
typedef struct rt_lset {
	uint64_t hash;
	uint32_t n;          /* pairs */
	bool inherit;
	const char *kv[];    /* key0, value0, key1, ...; sorted by key */
} rt_lset;
/* The set with that id (immutable, never freed), NULL for 0.  [AS-safe] */
const rt_lset *rt_labels_get(uint32_t id);

#endif
