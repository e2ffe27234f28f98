#!/usr/bin/perl
# A stand-in third party (a manager approving orders): it was handed a
# callback URL and token, takes a few seconds to decide, then calls back
#   POST <url>  Authorization: Bearer <token>  {"status": ..., "result": ...}
# retrying while the endpoint answers 503 or cannot be reached.
use strict;
use warnings;
use HTTP::Tiny;

my ($url, $token, $input) = @ARGV;
my ($amount) = ($input // '') =~ /"amount":\s*([0-9.]+)/;
$amount //= 0;
sleep 3;
my $ok = $amount <= 500;
my $body = $ok
    ? qq({"status": "success", "result": {"approved": true, "by": "manager\@example.com"}})
    : qq({"status": "error", "result": {"type": "declined", "reason": "amount $amount is over the limit"}});
for my $try (1 .. 10) {
    my $r = HTTP::Tiny->new(timeout => 10)->request('POST', $url,
        { headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json' },
          content => $body });
    print "  third party | POST $url -> $r->{status} $r->{content}\n";
    last unless $r->{status} == 503 || $r->{status} == 599;
    sleep 1;
}
