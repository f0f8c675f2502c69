# Rolling restart (SIGUSR2, `clusterctl restart`, SIGHUP without -c) under
# a connection-per-request load: no request fails, every slot moves to the
# new generation with its worker id, the old workers go.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 4, '-l', "127.0.0.1:$port",
    '-s', $ctl, '--', $HELLO]);
my @old = wait_generation($c->pid, 4, 1, 5, 'hello');
is(scalar(@old), 4, 'four workers of generation 1');
my %slot = map { ($_ => proc_env($_)->{CLUSTERD_WORKER_ID}) } @old;
is_deeply([sort values %slot], [0 .. 3], 'slots 0-3');
ok($c->wait_log(qr/^clusterd: 4 workers ready$/m), 'log: 4 workers ready');

# Check that the workers are all of generation $gen, one per slot 0-3,
# none of @$gone alive, and that the load saw no failure.
sub moved {
	my ($gen, $gone, $r, $what) = @_;
	my @new = wait_generation($c->pid, 4, $gen, 5, 'hello');
	is(scalar(@new), 4, "$what: four workers of generation $gen");
	my %ids = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => 1) } @new;
	is_deeply([sort keys %ids], [0 .. 3], "$what: worker ids 0-3 kept");
	ok(wait_for(sub { !grep { alive($_) } @$gone }, 5, 'old workers to go'),
	    "$what: the old workers are gone");
	ok(!(grep { my $p = $_; grep { $_ == $p } @$gone } @new),
	    "$what: no old pid among the new workers");
	is($r->{failed}, 0, "$what: no failed request out of $r->{ok}")
	    or diag(join("\n", @{ $r->{errors} }));
	cmp_ok($r->{gens}{$gen - 1} // 0, '>', 0,
	    "$what: generation " . ($gen - 1) . " answered during the load");
	cmp_ok($r->{gens}{$gen} // 0, '>', 0,
	    "$what: generation $gen answered during the load");
	return @new;
}

# SIGUSR2 under load.
my $load = start_load($port);
ok(wait_load($load, 20), 'the load runs');
my $mark = length(log_text($c));
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 \(4 workers, 1 at a time\)$/m),
    'log: rolling restart to generation 2 (4 workers, 1 at a time)');
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 done$/m, 15),
    'log: rolling restart to generation 2 done');
wait_load($load, 20);
my @new = moved(2, \@old, stop_load($load), 'SIGUSR2');

# The new workers started one slot after the other, in slot order.
my ($during) = substr(log_text($c), $mark) =~
    /^clusterd: rolling restart to generation 2 \(.*?\n(.*)^clusterd: rolling restart to generation 2 done$/ms;
my @order = ($during // '') =~ /^clusterd: worker (\d+) \(pid \d+\) started(?: \(generation 2\))?$/mg;
is_deeply(\@order, [0 .. 3], 'new workers started in slot order 0, 1, 2, 3');

# status json agrees.
my $st = ctl_status($ctl);
ok($st, 'status json over the control socket') or diag(log_text($c));
is($st->{generation}, 2, 'status: generation 2');
is($st->{state}, 'running', 'status: state running');
is($st->{workers_ready}, 4, 'status: 4 ready');
is_deeply([sort { $a <=> $b } map { $_->{pid} } @{ $st->{workers} // [] }],
    [sort { $a <=> $b } @new], 'status: the new pids');
ok(!(grep { $_->{generation} != 2 || $_->{state} ne 'ready' }
    @{ $st->{workers} // [] }), 'status: every worker ready, generation 2');

# `clusterctl restart` under load: answers when the restart is done.
$load = start_load($port);
ok(wait_load($load, 20), 'the load runs');
my ($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 0, 'clusterctl restart: exit 0') or diag($out, $err);
like($out . $err, qr/rolling restart to generation 3 done/,
    'clusterctl restart: rolling restart to generation 3 done');
ok($c->log_matches(qr/^clusterd: rolling restart to generation 3 done$/m),
    'clusterctl returned once the log said done');
$st = ctl_status($ctl);
is(scalar(grep { $_->{state} eq 'ready' && $_->{generation} == 3 }
    @{ $st->{workers} // [] }), 4,
    'status right after: 4 ready workers of generation 3');
wait_load($load, 20);
my @third = moved(3, \@new, stop_load($load), 'clusterctl restart');

# Without -c, SIGHUP is a rolling restart too.
$load = start_load($port);
ok(wait_load($load, 20), 'the load runs');
kill HUP => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 4 done$/m, 15),
    'SIGHUP without -c: rolling restart to generation 4 done');
wait_load($load, 20);
moved(4, \@third, stop_load($load), 'SIGHUP');

ok(!$c->log_matches(qr/restarting (now|in)|killed by signal|rolling back/),
    'no crash, no restart, no rollback in the log');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# A restart asked for while one runs is queued and runs after it; each
# clusterctl answers when its own restart is done.  (ready = 500ms makes
# each restart take a second.)
$ctl = "$TMPDIR/queue.sock";
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-s', $ctl,
    '--ready=500ms', '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), 'queue: 2 workers ready');
my $first = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 \(/m),
    'queue: the first restart runs');
my $second = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
ok($c->wait_log(qr/queued behind the rolling restart in progress/),
    'queue: log: queued behind the rolling restart in progress');
($code, $out, $err) = finish_clusterctl($first);
is($code, 0, 'queue: first clusterctl restart: exit 0');
like($out . $err, qr/rolling restart to generation 2 done/,
    'queue: the first answers generation 2 done');
ok(!$c->log_matches(qr/^clusterd: rolling restart to generation 3 done$/m),
    'queue: ... before the second one is done');
($code, $out, $err) = finish_clusterctl($second);
is($code, 0, 'queue: second clusterctl restart: exit 0');
like($out . $err, qr/rolling restart to generation 3 done/,
    'queue: the second answers generation 3 done');
my $qlog = log_text($c);
ok($qlog =~ /generation 2 done\n(?s:.*)rolling restart to generation 3 \(/m,
    'queue: the second restart started after the first was done');
wait_generation($c->pid, 2, 3, 5, 'hello');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'queue: exit 0');

done_testing();
