# Scaling: SIGTTIN adds a worker, SIGTTOU removes the highest slot,
# `clusterctl scale N` goes up, down, to 0 (the socket stays open and
# connections wait in the backlog) and back; a scale-down under load loses
# no request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port",
    '-s', $ctl, '--', $HELLO]);

# Wait for exactly $n hello workers in slots 0..n-1; returns {slot => pid}.
sub slots_are {
	my ($n, $what) = @_;
	my $s;
	my $ok = wait_for(sub {
		my $g = worker_gens($c->pid, 'hello');
		$s = { map { ($g->{$_}[0] => $_) } keys %$g };
		return keys(%$g) == $n
		    && join(',', sort { $a <=> $b } keys %$s) eq join(',', 0 .. $n - 1);
	}, 5, "$n workers in slots 0-" . ($n - 1));
	ok($ok, $what);
	return $s;
}

my $s = slots_are(2, 'two workers, slots 0 and 1');

kill TTIN => $c->pid;
ok($c->wait_log(qr/^clusterd: scaling from 2 to 3 workers$/m),
    'SIGTTIN: log: scaling from 2 to 3 workers');
my $s3 = slots_are(3, 'SIGTTIN: slots 0-2');
is($s3->{$_}, $s->{$_}, "SIGTTIN: slot $_ untouched") for 0, 1;
is(proc_env($s3->{2} // 0)->{CLUSTERD_GENERATION}, 1,
    'SIGTTIN: the new worker is of the current generation');

kill TTOU => $c->pid;
ok($c->wait_log(qr/^clusterd: scaling from 3 to 2 workers$/m),
    'SIGTTOU: log: scaling from 3 to 2 workers');
my $s2 = slots_are(2, 'SIGTTOU: slots 0 and 1 left');
ok(wait_for(sub { !alive($s3->{2} // 0) }, 5), 'SIGTTOU: the highest slot went');
is($s2->{$_}, $s->{$_}, "SIGTTOU: slot $_ untouched") for 0, 1;
# Reaped (no longer clusterd's child, not even a zombie), then a status
# answer: whatever clusterd does about that exit is done and logged.
ok(wait_for(sub { !grep { $_ == ($s3->{2} // 0) } worker_pids($c->pid) }, 5, 'the reap'),
    'SIGTTOU: the removed worker is reaped');
ok(defined((ctl_request($ctl, "status\n", 5))[0]), 'SIGTTOU: status answers');
ok(!$c->log_matches(qr/restarting/), 'the removed worker is not restarted');

# clusterctl scale up.
my ($code, $out, $err) = clusterctl($ctl, 'scale', 4);
is($code, 0, 'scale 4: exit 0') or diag($out, $err);
like($out . $err, qr/scaling from 2 to 4 workers/, 'scale 4: scaling from 2 to 4 workers');
my $s4 = slots_are(4, 'scale 4: slots 0-3');
my $st = ctl_status($ctl) // {};
is($st->{workers_wanted}, 4, 'status: 4 wanted');
ok(wait_for(sub { (ctl_status($ctl) // {})->{workers_ready} == 4 }, 5),
    'status: 4 ready');

# Scale down under load: no request fails.
my $load = start_load($port);
ok(wait_load($load, 20), 'the load runs');
($code, $out, $err) = clusterctl($ctl, 'scale', 1);
is($code, 0, 'scale 1: exit 0') or diag($out, $err);
like($out . $err, qr/scaling from 4 to 1 workers?/, 'scale 1: scaling from 4 to 1 worker');
my $s1 = slots_are(1, 'scale 1: slot 0 left');
is($s1->{0}, $s4->{0}, 'scale 1: slot 0 kept its worker');
ok(wait_for(sub { !grep { alive($s4->{$_} // 0) } 1 .. 3 }, 5),
    'scale 1: slots 1-3 stopped');
wait_load($load, 20);
my $r = stop_load($load);
is($r->{failed}, 0, "scale down under load: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
like(log_text($c), qr/^clusterd: scaling from 4 to 1 workers?$/m,
    'log: scaling from 4 to 1 worker');

# scale 0: no worker, the socket stays; a request waits for scale 1.
($code, $out, $err) = clusterctl($ctl, 'scale', 0);
is($code, 0, 'scale 0: exit 0') or diag($out, $err);
ok(wait_for(sub { !live_workers($c->pid) && !alive($s1->{0} // 0) }, 5),
    'scale 0: no worker left');
$st = ctl_status($ctl) // {};
is($st->{workers_wanted}, 0, 'scale 0: status: 0 wanted');
is(scalar(@{ $st->{workers} // [1] }), 0, 'scale 0: status: no worker row');
ok(alive($c->pid), 'scale 0: clusterd keeps running');
my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp', Timeout => 2);
ok($sock, 'scale 0: the port still accepts connections (backlog)');
syswrite($sock, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") if $sock;
($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 0, 'scale 0: status exits 0 (0 of 0 ready)') or diag($out, $err);
($code, $out, $err) = clusterctl($ctl, 'scale', 1);
is($code, 0, 'scale 1 again: exit 0') or diag($out, $err);
like($out . $err, qr/scaling from 0 to 1 worker/, 'scaling from 0 to 1 worker');
my $back = slots_are(1, 'scale 1: slot 0 again');
my $bp = $back->{0} // 0;
like($sock ? Clusterd::read_all($sock, 5) : '',
    qr/hello world from worker 0 \(pid $bp\)\n\z/,
    'the request that waited in the backlog is answered by the new worker');

# Bad requests.
for my $bad (['scale', 'abc'], ['scale', '-1'], ['scale']) {
	($code, $out, $err) = clusterctl($ctl, @$bad);
	isnt($code, 0, "clusterctl @$bad: fails");
	ok(defined $code && $code != 4, "clusterctl @$bad: not 'unreachable'");
}
my ($rc, $msg) = ctl_request($ctl, "scale abc\n");
is($rc, 2, 'raw "scale abc": code 2 (bad argument)');
slots_are(1, 'still one worker');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
