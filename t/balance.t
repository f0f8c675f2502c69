# Reuseport mode (issue 6): how evenly 8 workers share connections.
# With --reuseport clusterd's BPF program spreads new connections by a hash
# of the source address and port, so busiest/idlest stays near 1: asserted
# below a bound the hash meets reliably, 1.5 (measured here: 1.03-1.22 over
# some 40 runs of 4000 connection-per-request GETs from 8 clients).  The
# shared socket's figure depends on the scheduler and is only printed beside
# it (diag).  Also over IPv6 and IPv4 on a dual-stack socket, and from many
# source addresses with one source port.  Then the steering follows the live
# set: while a slot is dead (in backoff) no new connection goes to it, and it
# gets its share again once its worker is back and ready.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use Test::More;
use Clusterd;

my $WORKERS = 8;
my $REQUESTS = 4000;		# connection-per-request, 8 clients at once
my $RUNS = 3;
my $BOUND = 1.5;

sub cluster {
	my ($listen, @opt) = @_;
	my $c = start_clusterd(args => ['-n', $WORKERS, @opt,
	    '-s', "$TMPDIR/ctl-" . scalar(@opt) . "-$listen", '-l', $listen,
	    '--', $HELLO]);
	ok($c->wait_log(qr/^clusterd: $WORKERS workers ready$/m, 10),
	    (@opt ? "@opt " : '') . "$listen: $WORKERS workers ready")
	    or BAIL_OUT('the cluster does not start');
	return $c;
}

my %summary;
for my $mode ('shared', 'reuseport') {
	my $port = free_port();
	my $c = cluster("127.0.0.1:$port", $mode eq 'reuseport' ? '--reuseport' : ());
	is(scalar(keys %{ listen_sockets($port) }), $mode eq 'reuseport' ? $WORKERS : 1,
	    "$mode: " . ($mode eq 'reuseport' ? $WORKERS : 1)
	    . ' listening socket(s) on the port');
	for my $run (1 .. $RUNS) {
		my $r = burst(port => $port, clients => 8, requests => $REQUESTS);
		is($r->{failed}, 0, "$mode run $run: all $REQUESTS requests answered")
		    or diag(join("\n", @{ $r->{errors} }));
		my $text = balance_text($r->{pids}, $WORKERS);
		diag("$mode run $run ($REQUESTS requests, $WORKERS workers): $text");
		push(@{ $summary{$mode} }, sprintf('%.2f', balance_ratio($r->{pids}, $WORKERS)));
		next unless $mode eq 'reuseport';
		is(scalar(keys %{ $r->{pids} }), $WORKERS, "$mode run $run: every worker answered");
		cmp_ok(balance_ratio($r->{pids}, $WORKERS), '<=', $BOUND,
		    "$mode run $run: busiest/idlest <= $BOUND");
	}
	kill TERM => $c->pid;
	is(wait_exit($c, 10), 0, "$mode: exit 0");
}
diag("busiest/idlest, $RUNS runs each: $_ " . join(' ', @{ $summary{$_} }))
    for 'shared', 'reuseport';

# On a dual-stack socket ([::], the default for :PORT) the BPF program
# reads both IPv4 and IPv6 headers.
{
	my $port = free_port();
	my $c = cluster(":$port", '--reuseport');
	for my $host ('127.0.0.1', have_ipv6() ? '::1' : ()) {
		my $r = burst(host => $host, port => $port, clients => 8, requests => 2000);
		is($r->{failed}, 0, "dual-stack, from $host: all 2000 requests answered")
		    or diag(join("\n", @{ $r->{errors} }));
		diag("reuseport on [::]:PORT from $host: " . balance_text($r->{pids}, $WORKERS));
		cmp_ok(balance_ratio($r->{pids}, $WORKERS), '<=', $BOUND,
		    "dual-stack, from $host: busiest/idlest <= $BOUND");
	}

	# The source address counts too: 64 clients on 127.0.0.2-65, all from
	# one source port, still spread.
	my $sport = free_port();
	my (%ids, $n);
	for my $k (2 .. 65) {
		my $s = IO::Socket::IP->new(LocalHost => "127.0.0.$k", LocalPort => $sport,
		    PeerHost => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
		    ReuseAddr => 1, Timeout => 2) or next;
		$n++;
		my $body = Clusterd::http_exchange($s, '/', 2) // '';
		$ids{$1}++ if $body =~ /^hello world from worker (\d+) /;
	}
	cmp_ok($n // 0, '>=', 60, "one source port, many addresses: $n connections made");
	cmp_ok(scalar(keys %ids), '>=', 6, 'one source port, 64 addresses: spread over '
	    . scalar(keys %ids) . ' of 8 slots') or diag(balance_text(\%ids));
	kill TERM => $c->pid;
	is(wait_exit($c, 10), 0, 'dual-stack: exit 0');
}

# Steering follows deaths.  A worker of slot K dies at once while
# $TMPDIR/down.K exists; it is ready only after 200ms alive, so a slot that
# crash-loops never counts as ready, and waits 2s between tries.
my $port = free_port();
my $ctl = "$TMPDIR/ctl-steer";
my $conf = write_file("$TMPDIR/steer.conf", <<"END");
[clusterd]
workers = $WORKERS
control = $ctl
[socket:http]
listen = 127.0.0.1:$port
reuseport = yes
[program]
command = /bin/sh -c 'test -e $TMPDIR/down.{worker} && exit 7; exec $HELLO'
ready = 200ms
backoff_initial = 2s
backoff_max = 2s
END
my $c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/^clusterd: $WORKERS workers ready$/m, 10), "steer: $WORKERS workers ready")
    or BAIL_OUT('the cluster does not start');
my $r = burst(port => $port, clients => 4, requests => 400);
is(scalar(keys %{ $r->{ids} }), $WORKERS, 'steer: all slots answer at first')
    or diag(balance_text($r->{ids}));

my %down;
for my $slot (3, 5) {
	my %w = map { ($_->[0] => $_->[1]) } map { [$_->{id}, $_->{pid}] }
	    @{ (ctl_status($ctl) // {})->{workers} // [] };
	write_file("$TMPDIR/down.$slot", '');
	$down{$slot} = 1;
	ok(kill(KILL => $w{$slot} // 0), "steer: kill -9 the worker of slot $slot");
	ok($c->wait_log(qr/^clusterd: worker $slot \(pid \d+\) exited with status 7; restarting in ${\ dur_re(2)}$/m, 5),
	    "steer: slot $slot crash-loops, in backoff");
	$r = burst(port => $port, clients => 4, requests => 400, timeout => 1);
	my $dead = join(' and ', sort keys %down);
	is($r->{failed}, 0, "steer: slot(s) $dead down: all 400 new connections answered")
	    or diag(join("\n", @{ $r->{errors} }));
	ok(!grep({ exists $r->{ids}{$_} } keys %down), "steer: none by slot(s) $dead")
	    or diag(balance_text($r->{ids}));
	is(scalar(keys %{ $r->{ids} }), $WORKERS - keys(%down),
	    'steer: every other slot answers');
	cmp_ok($r->{slowest}, '<', 0.5,
	    "steer: no connection waits for a dead slot (slowest answer ${\ sprintf('%.3f', $r->{slowest}) }s)");
}

# Back: the slots are steered to again once their workers are ready.
unlink("$TMPDIR/down.$_") for keys %down;
ok(wait_for(sub { ((ctl_status($ctl) // {})->{workers_ready} // 0) == $WORKERS }, 10,
    "$WORKERS ready"), "steer: slots 3 and 5 back and ready");
$r = burst(port => $port, clients => 4, requests => 400);
is($r->{failed}, 0, 'steer: all answered after the slots came back');
ok($r->{ids}{3} && $r->{ids}{5}, 'steer: slots 3 and 5 answer again')
    or diag(balance_text($r->{ids}));

kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'steer: exit 0');

done_testing();
