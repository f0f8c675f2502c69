# A real peer takes the socket: node examples/hello.js with listen({fd: 3}).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $node = (grep { -x "$_/node" } split(/:/, $ENV{PATH}))[0];
plan(skip_all => 'node is not installed') unless $node;

my $port = free_port();
my $c = start_clusterd(args => ['-n', 4, '-l', "127.0.0.1:$port", '--',
    'node', "$TOP_SRCDIR/examples/hello.js"]);
my @w = wait_workers($c->pid, 4, 10, 'node');
is(scalar(@w), 4, 'four node workers');
# node needs a moment after exec before it listens: wait for each one to
# print its "started" line.
my @up;
wait_for(sub { @up = log_text($c) =~ /^worker \d \(pid \d+\) started$/mg;
    @up == 4 }, 10, 'the node workers to start');
my %id;
my $seen = answers_from_all(\@w, sub {
	my $b = http_get('127.0.0.1', $port) // '';
	return undef unless $b =~ /^hello world from worker (\d) \(pid (\d+)\)\n\z/;
	$id{$2} = $1;
	return $2;
});
is_deeply([sort { $a <=> $b } keys %$seen], \@w, '4 distinct pids answer');
is_deeply([sort values %id], [0, 1, 2, 3], 'as workers 0..3');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: node workers stop gracefully, exit 0');
ok(!$c->log_matches(qr/did not stop|killing/), 'none had to be killed');

done_testing();
