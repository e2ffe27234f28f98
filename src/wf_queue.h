/*
 * wf_queue.h — claim tokens and runner wake-ups.
 */
#ifndef WF_QUEUE_H
#define WF_QUEUE_H

#include "postgres.h"

#define WF_TOKEN_BYTES	16		/* random bytes per token: 32 hex digits */
#define WF_HASH_BYTES	32		/* SHA-256 */

extern char *wf_token_new(bytea **hash);
extern bool wf_token_matches(const char *token, const bytea *hash);
extern bytea *wf_token_hash(const char *token);
extern void wf_notify_queue(const char *queue);

#endif							/* WF_QUEUE_H */
