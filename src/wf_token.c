/*
 * wf_token.c — claim and callback tokens.
 *
 * Each attempt gets a fresh token: WF_TOKEN_BYTES from pg_strong_random,
 * returned to the runner in hex and stored only as its SHA-256, compared
 * in constant time. A new attempt (or a delegation) replaces the hash, so
 * an older token is stale from that moment.
 */
#include "postgres.h"

#include "common/cryptohash.h"

#include "wf_token.h"

static void
sha256(const char *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, WF_HASH_BYTES) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/* A new token (hex, returned) and its hash (*hash, to store). */
char *
wf_token_new(bytea **hash)
{
	uint8		raw[WF_TOKEN_BYTES];
	char	   *hex = palloc(WF_TOKEN_BYTES * 2 + 1);

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random claim token")));
	for (int i = 0; i < WF_TOKEN_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	*hash = wf_token_hash(hex);
	return hex;
}

bytea *
wf_token_hash(const char *token)
{
	bytea	   *h = palloc(VARHDRSZ + WF_HASH_BYTES);

	SET_VARSIZE(h, VARHDRSZ + WF_HASH_BYTES);
	sha256(token, strlen(token), (uint8 *) VARDATA(h));
	return h;
}

bool
wf_token_matches(const char *token, const bytea *hash)
{
	uint8		digest[WF_HASH_BYTES];

	if (hash == NULL || VARSIZE_ANY_EXHDR(hash) != WF_HASH_BYTES)
		return false;
	sha256(token, strlen(token), digest);
	return timingsafe_bcmp(digest, VARDATA_ANY(hash), WF_HASH_BYTES) == 0;
}
