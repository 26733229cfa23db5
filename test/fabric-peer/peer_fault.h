/* Fault injection for the Fabric peer stand-in, driven by a control file that tests rewrite at will (write a temp
 * file and rename it over the control path). The file is re-read whenever it changes; each load replaces all rules.
 * One rule per line, '#' starts a comment; <method> is Endorse, Submit, CommitStatus, Evaluate, ChaincodeEvents or *:
 *
 *   unavailable <method> <count>         the next <count> calls fail with UNAVAILABLE
 *   too_many <method> <count>            the next <count> calls fail with UNKNOWN "too many requests ..." (the
 *                                        peer's concurrency-limit answer)
 *   no_plan <method> <count>             the next <count> calls fail with FAILED_PRECONDITION, as a real gateway
 *                                        answers when it cannot build an endorsement plan (another
 *                                        organization's peers down: usually transient)
 *   delay <method> <count> <ms>          the next <count> calls wait <ms> before being handled
 *   drop_events                          every ChaincodeEvents stream open at load time ends with UNAVAILABLE
 *
 * Thread-safe.
 */
#ifndef PEER_FAULT_H
#define PEER_FAULT_H

enum peer_fault_kind {
	PEER_FAULT_NONE,
	PEER_FAULT_UNAVAILABLE,
	PEER_FAULT_TOO_MANY,
	PEER_FAULT_NO_PLAN,
};

struct peer_fault;

/* path may be NULL (no faults ever). The path is copied. Caller owns; peer_fault_free(). */
struct peer_fault *peer_fault_new(const char *path);
void peer_fault_free(struct peer_fault *f);
/* Consume the rules matching one call of method; *delay_ms gets the delay to apply (0 for none). */
enum peer_fault_kind peer_fault_take(struct peer_fault *f, const char *method, int *delay_ms);
/* Generation of drop_events: a stream ends when this differs from the value it saw when it started. */
unsigned peer_fault_drop_gen(struct peer_fault *f);

#endif
