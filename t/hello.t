# N workers share one listening port; each one answers (examples/hello).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $c = start_clusterd(args => ['-n', 4, '-l', "127.0.0.1:$port", '--',
    $HELLO]);

ok($c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:$port \(listen0\)$/m),
    'logs the listening socket');
ok($c->wait_log(qr/^clusterd: 4 workers ready$/m), 'logs "4 workers ready"');
my @w = wait_workers($c->pid, 4, 5, 'hello');
is(scalar(@w), 4, 'four hello workers run');

my %logged;
for my $id (0 .. 3) {
	my ($pid) = $c->log_matches(
	    qr/^clusterd: worker $id \(pid (\d+)\) started$/m);
	ok($pid, "worker $id started line");
	$logged{$pid} = $id if $pid;
}
is_deeply([sort { $a <=> $b } keys %logged], \@w,
    'the started lines name the running workers');
my @ready = log_text($c) =~ /workers ready/g;
is(scalar(@ready), 1, '"workers ready" is logged once');

my $bad;
my $answered = answers_from_all(\@w, sub {
	my $body = http_get('127.0.0.1', $port);
	if (defined $body
	    && $body =~ /^hello world from worker (\d) \(pid (\d+)\)\n\z/) {
		my ($id, $pid) = ($1, $2);
		$bad = "pid $pid says worker $id" if ($logged{$pid} // -1) != $id;
		return $pid;
	}
	$bad = $body // 'no answer';
	return undef;
});
ok(!defined $bad, 'every request answered as its worker') or diag("got: $bad");
is_deeply([sort { $a <=> $b } keys %$answered], \@w,
    'all 4 workers answer on the one port');
for my $pid (@w) {
	is(proc_env($pid)->{CLUSTERD_WORKER_ID}, $logged{$pid},
	    "pid $pid: CLUSTERD_WORKER_ID=$logged{$pid}");
}

# Keep-alive through clusterd's socket: two requests on one connection.
my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port);
syswrite($s, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n"
    . "Connection: close\r\n\r\n");
my $r = Clusterd::read_all($s, 3);
my @bodies = $r =~ /hello world from worker \d \(pid \d+\)\n/g;
is(scalar(@bodies), 2, 'two pipelined requests on one connection');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');
ok(!(grep { alive($_) } @w), 'no worker left');

done_testing();
