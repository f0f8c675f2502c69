# Rolling restarts that succeed, with restart_batch > 1: under a
# connection-per-request load in both restart modes; with requests queued
# behind them (two restarts merged into one, a reload after them); and with
# a scale up or down in their middle.  Each ends with status (text and
# json) showing every slot ready on the new generation.  The failures are in
# t/rollout-fail.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $WORKER = "$TOP_SRCDIR/t/bin/slot-worker";

# --- Under load, both modes ---
# ready = 300ms makes each slot's move take that long, so the load runs
# through the whole restart.  Neither mode may lose a request: the listening
# socket is clusterd's and stays open, so a connection made while a slot has
# no worker (replace mode) waits in the backlog for any worker, and with a
# batch smaller than the pool the others keep accepting.  Even replace with
# batch = workers (every worker down at once) refuses nothing: the
# connections wait the few milliseconds until the new ones accept.
for my $case (['surge', 5, 3], ['replace', 4, 2], ['replace', 4, 4]) {
	my ($mode, $n, $batch) = @$case;
	my $tag = "$mode $batch of $n";
	my $port = free_port();
	my $ctl = "$TMPDIR/load-$mode-$batch.sock";
	my $conf = write_file("$TMPDIR/load-$mode-$batch.conf", <<"END");
[clusterd]
workers = $n
restart_batch = $batch
control = $ctl
[socket:http]
listen = 127.0.0.1:$port
[program]
command = $HELLO
ready = 300ms
restart_mode = $mode
END
	my $c = start_clusterd(args => ['-c', $conf]);
	ok(wait_settled($ctl, $n, 1), "$tag: $n workers ready");
	# bounded: stop_load ends it, and it gives up by itself after 20s
	my $load = start_load($port, max => 20);
	ok(wait_load($load, 20), "$tag: the load runs");
	my ($code, $out, $err) = clusterctl($ctl, 'restart');
	is($code, 0, "$tag: clusterctl restart exits 0") or diag($out, $err);
	like($out . $err, qr/rolling restart to generation 2 done/,
	    "$tag: the answer: rolling restart to generation 2 done");
	ok(wait_load($load, 20), "$tag: the load goes on");
	my $r = stop_load($load);
	is($r->{failed}, 0, "$tag: no failed request out of $r->{ok}")
	    or diag(join("\n", @{ $r->{errors} }));
	cmp_ok($r->{gens}{1} // 0, '>', 0, "$tag: generation 1 answered");
	cmp_ok($r->{gens}{2} // 0, '>', 0, "$tag: generation 2 answered");
	settled_ok($ctl, $n, 2, $tag);
	ok(!$c->log_matches(qr/rolling back|restarting (?:now|in)/),
	    "$tag: no rollback, no crash in the log");
	kill TERM => $c->pid;
	is(wait_exit($c), 0, "$tag: exit 0");
}

# A pool of slot-workers whose new generations wait for $dir/gate before
# they are ready, so a rolling restart stays in its middle until the test
# creates the gate.
sub gated_pool {
	my ($tag, $n, $batch) = @_;
	my $dir = "$TMPDIR/$tag";
	mkdir($dir) or die "$dir: $!";
	my $ctl = "$dir/ctl.sock";
	my $conf = write_file("$dir/clusterd.conf", <<"END");
[clusterd]
workers = $n
restart_batch = $batch
control = $ctl
[program]
command = $WORKER
ready = notify
ready_timeout = 30s
[env]
SLOT_DIR = $dir
END
	write_file("$dir/fail", "gate * new\n");
	my $c = start_clusterd(args => ['-c', $conf, '-l', 'none']);
	ok(wait_settled($ctl, $n, 1), "$tag: $n workers ready");
	return ($c, $ctl, $dir, $conf);
}

# Wait until status shows $k new workers (generation $gen) starting.
sub starting {
	my ($ctl, $k, $gen) = @_;
	return wait_for(sub {
		my $st = ctl_status($ctl) // return 0;
		return $k == grep { ($_->{generation} // 0) == $gen
		    && $_->{state} eq 'starting' } @{ $st->{workers} // [] };
	}, 5, "$k workers of generation $gen starting");
}

# --- The queue: restart A runs; B and C wait as one; reload D after them ---
my ($c, $ctl, $dir, $conf) = gated_pool('queue', 3, 2);
my $start = length(log_text($c));
my $a = ctl_send($ctl, "restart\n");
ok(starting($ctl, 2, 2), 'queue: restart A runs, its first batch (2) starting');
my $mark = length(log_text($c));
my $b = ctl_send($ctl, "restart\n");
ok(wait_for(sub { substr(log_text($c), $mark) =~
    /^clusterd: restart queued behind the rolling restart in progress$/m }),
    'queue: log: restart queued behind the rolling restart in progress');
my $cc = ctl_send($ctl, "restart\n");
# Two round trips after C's line: clusterd has read it before the reload.
ok(defined((ctl_request($ctl, "status\n", 5))[0]), 'queue: status answers');
ok(defined((ctl_request($ctl, "status\n", 5))[0]), 'queue: status answers again');
write_file($conf, slurp($conf) . "QUEUE_TEST = 1\n");	# a program change
my $d = ctl_send($ctl, "reload\n");
ok($c->wait_log(qr/^clusterd: reload queued behind the rolling restart in progress$/m),
    'queue: log: reload queued behind the rolling restart in progress');
write_file("$dir/gate", '');
my @r = ctl_answer($a);
is_deeply([@r[0, 1]], [0, 'rolling restart to generation 2 done'],
    'queue: A: rolling restart to generation 2 done');
@r = ctl_answer($b);
is_deeply([@r[0, 1]], [0, 'rolling restart to generation 3 done'],
    'queue: B: rolling restart to generation 3 done');
@r = ctl_answer($cc);
is_deeply([@r[0, 1]], [0, 'rolling restart to generation 3 done'],
    'queue: C, merged with B: rolling restart to generation 3 done');
@r = ctl_answer($d);
is($r[0], 0, 'queue: D (reload): code 0');
like($r[1] // '', qr/rolling restart to generation 4 done/,
    'queue: D: ... rolling restart to generation 4 done') or diag(explain(\@r));
my $log = substr(log_text($c), $start);
is(scalar(() = $log =~ /^clusterd: rolling restart to generation \d+ \(/mg), 3,
    'queue: three rolling restarts in all (A, B+C, D)');
ok($log =~ /generation 2 done\n(?s:.*)generation 3 \((?s:.*)generation 3 done\n(?s:.*)reload: program changed; rolling restart\n(?s:.*)generation 4 done$/m,
    'queue: one after the other: 2, 3, then the reload to 4');
settled_ok($ctl, 3, 4, 'queue');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'queue: exit 0');

# --- Scale in the middle of a rolling restart ---
($c, $ctl, $dir, $conf) = gated_pool('scale', 4, 2);
my $h = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
ok(starting($ctl, 2, 2), 'scale up: the restart runs, slots 0 and 1 starting');
my ($code, $out, $err) = clusterctl($ctl, 'scale', 6);
is($code, 0, 'scale up: clusterctl scale 6 exits 0') or diag($out, $err);
write_file("$dir/gate", '');
($code, $out, $err) = finish_clusterctl($h);
is($code, 0, 'scale up: clusterctl restart exits 0') or diag($out, $err);
like($out . $err, qr/rolling restart to generation 2 done/,
    'scale up: the answer: rolling restart to generation 2 done');
settled_ok($ctl, 6, 2, 'scale up during a restart');

unlink("$dir/gate");
$h = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
ok(starting($ctl, 2, 3), 'scale down: the restart runs, slots 0 and 1 starting');
($code, $out, $err) = clusterctl($ctl, 'scale', 1);
is($code, 0, 'scale down: clusterctl scale 1 exits 0') or diag($out, $err);
write_file("$dir/gate", '');
($code, $out, $err) = finish_clusterctl($h);
is($code, 0, 'scale down: clusterctl restart exits 0') or diag($out, $err);
like($out . $err, qr/rolling restart to generation 3 done/,
    'scale down: the answer: rolling restart to generation 3 done');
settled_ok($ctl, 1, 3, 'scale down during a restart');
is(scalar(live_workers($c->pid, 'slot-worker')), 1,
    'scale down: one worker process left');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'scale: exit 0');

done_testing();
