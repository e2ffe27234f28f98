/*
 * wf_token.h — claim and callback tokens.
 */
#ifndef WF_TOKEN_H
#define WF_TOKEN_H

#include "postgres.h"

#define WF_TOKEN_BYTES	16		/* random bytes per token: 32 hex digits */
#define WF_HASH_BYTES	32		/* SHA-256 */

extern char *wf_token_new(bytea **hash);
extern bool wf_token_matches(const char *token, const bytea *hash);
extern bytea *wf_token_hash(const char *token);

#endif							/* WF_TOKEN_H */
