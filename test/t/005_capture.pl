# The watchdog worker runs as a superuser: its statements must not be
# captured by objects that a database owner can create. Mallory owns the
# database: she defines public.unnest(jsonb[]) (an exact match beats
# pg_catalog's polymorphic unnest) and an operator public.= on bigint, puts
# public before pg_catalog in the database's search_path, and waits for the
# worker to start a for_each and expire a lease.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('capture');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_wf'
pg_wf.database = 'owned'
pg_wf.max_sleep = '10min'
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE ROLE mallory LOGIN;
  CREATE DATABASE owned OWNER mallory;
});
$node->safe_psql('owned', 'CREATE EXTENSION pg_wf');
$node->safe_psql('owned', q{
  SET ROLE mallory;
  CREATE TABLE public.captured (who text, what text);
  GRANT INSERT ON public.captured TO PUBLIC;
  CREATE FUNCTION public.unnest(jsonb[]) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
  BEGIN
      INSERT INTO public.captured VALUES (current_user, 'unnest');
      RETURN QUERY SELECT pg_catalog.unnest($1);
  END $$;
  CREATE FUNCTION public.evil_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
      INSERT INTO public.captured VALUES (current_user, '=');
      RETURN $1 OPERATOR(pg_catalog.=) $2;
  END $$;
  CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.evil_eq);
  ALTER DATABASE owned SET search_path = public, pg_catalog;
});
# the worker connects after the change (its database settings are read at start)
$node->restart;
$node->wait_for_log(qr/pg_wf watchdog started in database "owned"/);

# Our own queries: with pg_catalog first (the trap is for the worker).
sub sq { $node->safe_psql('owned', "SET search_path = pg_catalog, public; $_[0]") }

sq(q{
  SELECT wf_define('{"name": "nap", "input": ["xs"], "tasks": {
      "nap":  {"engine": "sleep", "for": "1s", "on_success": ["each"]},
      "each": {"action": "x", "for_each": "$.input.xs", "input": {"x": "$.item"}}}}');
  SELECT wf_define('{"name": "lease", "tasks": {"a": {"action": "x", "queue": "l"}}}');
});
my $e = sq(q{SELECT wf_start('nap', '{"xs": [1, 2, 3]}')});
my $l = sq(q{SELECT e FROM wf_start('lease') e, wf_claim('l', 1, '1 second')});
ok($node->poll_query_until('owned',
	"SELECT count(*) = 3 FROM wf.task WHERE execution_id OPERATOR(pg_catalog.=) ${e}::bigint AND item IS NOT NULL"),
	'the worker started the for_each (after the sleep)');
ok($node->poll_query_until('owned',
	"SELECT state OPERATOR(pg_catalog.=) 'failed' FROM wf.execution WHERE id OPERATOR(pg_catalog.=) ${l}::bigint"),
	'the worker expired the lease');
is(sq('SELECT count(*) FROM public.captured'), '0',
	'neither public.unnest nor public.= ran in the worker');
is(sq("SELECT setting FROM pg_settings WHERE name = 'search_path'"), 'pg_catalog, public',
	'(our own session has its own search_path)');

done_testing();
