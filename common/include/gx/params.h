/* The system parameters a command may change, with their allowed ranges (docs/chaincode.md §5): the one table
 * behind POST /api/v1/parameters (svc-admin) and PARAMETER_CHANGE proposals (svc-governance), so the chain never
 * sees a value it would refuse. */
#ifndef GX_PARAMS_H
#define GX_PARAMS_H

#include <stdint.h>

/* One row: a parameter key and the inclusive range of its canonical non-negative integer value. */
struct gx_params_rule {
	const char *key;
	uint64_t min, max;
};

/* The rule of key (borrowed, static storage), or NULL when key is NULL or not a changeable parameter. */
const struct gx_params_rule *gx_params_find(const char *key);

#endif
