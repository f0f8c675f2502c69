# Each transition of a worker slot, seen through clusterctl status (json
# and text) as well as the log: start -> ready by exec, notify and a delay;
# a crash, backoff, a new start; give_up_after; a clean exit that leaves a
# slot done (restart = on-failure, never); ready_timeout during a start; a
# watchdog timeout; scale up and down, plain and reuseport; a stop while a
# slot is in backoff, while a worker starts, during a rolling restart.
# Each scenario ends with status settled (or with the exit it expects).
#
# Most workers are t/bin/slot-worker (ready = notify): a rules file in its
# directory makes a slot crash, exit 0, hang or wait for a gate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $WORKER = "$TOP_SRCDIR/t/bin/slot-worker";

# pool(TAG, N, [clusterd] lines, [program] lines, rules, args): clusterd of N
# slot-workers (ready = notify unless the lines say otherwise); the rules
# file is written first.
sub pool {
	my ($tag, $n, $sup, $prog, $rules, @args) = @_;
	my $dir = "$TMPDIR/$tag";
	mkdir($dir) or die "$dir: $!";
	my $ctl = "$dir/ctl.sock";
	write_file("$dir/fail", $rules) if defined $rules;
	my $conf = write_file("$dir/clusterd.conf", <<"END");
[clusterd]
workers = $n
control = $ctl
$sup
[program]
command = $WORKER
$prog
[env]
SLOT_DIR = $dir
END
	my $c = start_clusterd(args => ['-c', $conf, @args ? @args : ('-l', 'none')]);
	return ($c, $ctl, $dir);
}

# The rows of slot $id in status json (a slot in a rolling restart has two).
sub rows_of {
	my ($st, $id) = @_;
	return grep { $_->{id} == $id } @{ ($st // {})->{workers} // [] };
}

# Wait until status json has a row for slot $id that $cond accepts; returns
# that row.
sub wait_row {
	my ($ctl, $id, $cond, $what, $secs) = @_;
	my $row;
	wait_for(sub {
		($row) = grep { $cond->($_) } rows_of(ctl_status($ctl), $id);
		return $row;
	}, $secs // 5, $what);
	return $row;
}

# --- start -> ready: ready = exec ---
my ($c, $ctl, $dir) = pool('exec', 2, '', 'ready = exec');
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), 'exec: log: 2 workers ready');
settled_ok($ctl, 2, 1, 'ready = exec');
stop_ok($c, 'exec');

# --- start -> ready: ready = notify, the worker holds READY=1 ---
($c, $ctl, $dir) = pool('notify', 2, '', "ready = notify\nready_timeout = 30s",
    "gate 1 *\n");
my $row = wait_row($ctl, 1, sub { $_[0]{state} eq 'starting' && $_[0]{pid} },
    'slot 1 starting');
ok($row, 'notify: status: slot 1 starting, with a pid, while it holds READY=1');
ok(wait_row($ctl, 0, sub { $_[0]{state} eq 'ready' }, 'slot 0 ready'),
    'notify: status: slot 0 ready');
my ($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 3, 'notify: clusterctl status exits 3 (degraded) meanwhile');
like($out, qr/^1\s+\d+\s+starting\s+1\s/m, 'notify: text: slot 1 starting')
    or diag($out);
ok(!$c->log_matches(qr/workers ready/), 'notify: no "workers ready" yet');
write_file("$dir/gate", '');
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), 'notify: log: 2 workers ready');
my $st = settled_ok($ctl, 2, 1, 'ready = notify');
is((rows_of($st, 1))[0]{pid}, $row->{pid}, 'notify: the same worker, now ready');
stop_ok($c, 'notify');

# --- start -> ready: ready = DURATION alive ---
my $delay = timeout(1.5);
($c, $ctl, $dir) = pool('delay', 1, '', "ready = $delay");
$row = wait_row($ctl, 0, sub { $_[0]{state} eq 'starting' && $_[0]{pid} },
    'slot 0 starting', 1.5);
ok($row, "delay: status: slot 0 starting for its first ${delay}s");
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m), 'delay: log: 1 worker ready');
$st = settled_ok($ctl, 1, 1, 'ready = ' . $delay);
cmp_ok((rows_of($st, 0))[0]{uptime}, '>=', $delay * 0.9,
    'delay: ready only once it lived the delay');
stop_ok($c, 'delay');

# --- ready -> crash -> backoff -> start -> ready ---
# Slot 1's ready worker is killed; its replacement starts at once and
# crashes (the rules say so); that second quick death waits backoff_initial,
# long enough to see the slot in backoff.
my $bo = timeout(1.5);
($c, $ctl, $dir) = pool('backoff', 2, '',
    "ready = notify\nbackoff_initial = ${bo}s");
$st = settled_ok($ctl, 2, 1, 'backoff: start');
my $victim = (rows_of($st, 1))[0]{pid} // 0;
write_file("$dir/fail", "crash 1 *\n");
kill KILL => $victim;
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $victim\) killed by signal 9; restarting now$/m),
    'backoff: log: the ready worker of slot 1 killed by signal 9; restarting now');
ok($c->wait_log(qr/^clusterd: worker 1 \(pid \d+\) exited with status 1; restarting in ${\ dur_re($bo)}$/m),
    'backoff: log: its replacement crashes, a quick death: restarting in backoff_initial');
$row = wait_row($ctl, 1, sub { $_[0]{state} eq 'backoff' }, 'slot 1 in backoff');
ok($row, 'backoff: status --json: slot 1 in backoff');
ok($row && !defined $row->{pid} && !defined $row->{generation},
    'backoff: status --json: no pid, no generation');
is($row->{last_exit}, 'exited with status 1', 'backoff: last_exit: exited with status 1');
cmp_ok($row->{restarts} // 0, '>=', 1, 'backoff: restarts counted');
($code, $out) = clusterctl($ctl, 'status');
is($code, 3, 'backoff: clusterctl status exits 3 (degraded)');
like($out, qr/^1\s+-\s+backoff\s/m, 'backoff: text: slot 1 backoff') or diag($out);
unlink("$dir/fail");
$st = settled_ok($ctl, 2, 1, 'backoff, then a start that works', 5);
cmp_ok((rows_of($st, 1))[0]{restarts}, '>=', 2, 'backoff: slot 1 counts its restarts');
stop_ok($c, 'backoff');

# --- quick deaths, give_up_after: exit 3 ---
($c, $ctl, $dir) = pool('giveup', 2, 'give_up_after = 3',
    "ready = notify\nbackoff_initial = ${\ timeout(1)}s", "crash 0 *\n");
ok(wait_row($ctl, 0, sub { $_[0]{state} eq 'backoff' }, 'slot 0 in backoff'),
    'giveup: status --json: slot 0 in backoff between quick deaths');
is(wait_exit($c, 5), 3, 'giveup: exit 3');
like(log_text($c), qr/^clusterd: worker 0 died 3 times in a row; giving up$/m,
    'giveup: log: worker 0 died 3 times in a row; giving up');
($code) = clusterctl($ctl, 'status');
is($code, 4, 'giveup: clusterctl status exits 4 (unreachable) afterwards');
is_deeply([tagged_pids()], [], 'giveup: nothing left running');

# --- a clean exit -> done (on-failure), any exit -> done (never) ---
for my $case (['on-failure', 'exit0', 0], ['never', 'crash', 1]) {
	my ($restart, $kind, $status) = @$case;
	($c, $ctl, $dir) = pool("done-$restart", 3, '',
	    "ready = notify\nrestart = $restart", "$kind 2 *\n");
	ok($c->wait_log(qr/^clusterd: worker 2 \(pid \d+\) exited with status $status; not restarting \(restart = $restart\)$/m),
	    "done ($restart): log: exited with status $status; not restarting");
	$row = wait_row($ctl, 2, sub { $_[0]{state} eq 'done' }, 'slot 2 done');
	ok($row, "done ($restart): status --json: slot 2 done");
	is($row->{last_exit}, "exited with status $status",
	    "done ($restart): last_exit: exited with status $status");
	ok(wait_row($ctl, $_, sub { $_[0]{state} eq 'ready' }, "slot $_ ready"),
	    "done ($restart): slot $_ still ready") for 0, 1;
	$st = ctl_status($ctl) // {};
	is_deeply([@$st{qw(workers_wanted workers_ready)}], [3, 2],
	    "done ($restart): 3 wanted, 2 ready");
	($code, $out) = clusterctl($ctl, 'status');
	is($code, 3, "done ($restart): clusterctl status exits 3");
	like($out, qr/^2\s+-\s+done\s/m, "done ($restart): text: slot 2 done")
	    or diag($out);
	ok(alive($c->pid), "done ($restart): clusterd runs on with the others");
	stop_ok($c, "done ($restart)");
}

# --- ready_timeout during a start: stopped, restarted ---
($c, $ctl, $dir) = pool('rtimeout', 2, '',
    "ready = notify\nready_timeout = ${\ timeout(1)}s", "hang 1 *\n");
my $half = dur_re(timeout(1));
my ($hung) = $c->wait_log(qr/^clusterd: worker 1 \(pid (\d+)\) not ready within $half; stopping it$/m);
ok($hung, 'rtimeout: log: worker 1 (pid X) not ready within 1s; stopping it');
unlink("$dir/fail");
$st = settled_ok($ctl, 2, 1, 'ready_timeout, then a start that works');
$row = (rows_of($st, 1))[0] // {};
ok($row->{pid} && $row->{pid} != ($hung // 0), 'rtimeout: slot 1 has a new worker');
like($row->{last_exit} // '', qr/not ready within/,
    'rtimeout: last_exit says not ready within');
ok(!alive($hung // 0), 'rtimeout: the hung worker is gone');
stop_ok($c, 'rtimeout');

# --- watchdog timeout on a ready worker: stopped, restarted ---
# (the notify-worker of t/watchdog.t: READY=1, then WATCHDOG=1 pings until
# quiet-ID exists, which it removes so that its replacement pings again)
my $wdir = "$TMPDIR/watchdog";
mkdir($wdir);
my $wconf = write_file("$wdir/clusterd.conf", <<"END");
[clusterd]
workers = 2
control = $wdir/ctl.sock
[program]
ready = notify
watchdog = 1s
END
$ctl = "$wdir/ctl.sock";
$c = start_clusterd(args => ['-l', 'none', '-c', $wconf, '--', $PYTHON3,
    $NOTIFY_WORKER, 'send=READY=1', "ping=$wdir/quiet-{worker}"]);
$st = settled_ok($ctl, 2, 1, 'watchdog: start');
my $quiet = (rows_of($st, 1))[0]{pid} // 0;
write_file("$wdir/quiet-1", '');
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $quiet\) watchdog timeout \(no WATCHDOG=1 within ${\ dur_re(1)}\); stopping it$/m),
    'watchdog: log: worker 1 watchdog timeout; stopping it');
ok(wait_for(sub { !-e "$wdir/quiet-1" && !alive($quiet) }, 5, 'the replacement'),
    'watchdog: the silent worker is gone, its replacement runs');
$st = settled_ok($ctl, 2, 1, 'watchdog timeout, then a new worker');
$row = (rows_of($st, 1))[0] // {};
ok($row->{pid} && $row->{pid} != $quiet, 'watchdog: slot 1 has a new worker');
is($row->{restarts}, 1, 'watchdog: slot 1 restarted once');
stop_ok($c, 'watchdog');

# --- scale up and down: a shared socket, then reuseport ---
for my $rp (0, 1) {
	my $tag = $rp ? 'scale, reuseport' : 'scale';
	my $port = free_port();
	$ctl = "$TMPDIR/scale-$rp.sock";
	$c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port",
	    '-s', $ctl, $rp ? ('--reuseport') : (), '--', $HELLO]);
	settled_ok($ctl, 2, 1, "$tag: 2 workers");
	($code, $out, $err) = clusterctl($ctl, 'scale', 4);
	is($code, 0, "$tag: clusterctl scale 4 exits 0") or diag($out, $err);
	settled_ok($ctl, 4, 1, "$tag: up to 4");
	is_deeply(hello_ids($port, 4), [0 .. 3], "$tag: slots 0-3 answer");
	# Down under load: a removed slot is steered away (reuseport) and
	# drained before its worker stops; no request fails.
	my $load = start_load($port, max => 20);
	ok(wait_load($load, 20), "$tag: the load runs");
	($code, $out, $err) = clusterctl($ctl, 'scale', 1);
	is($code, 0, "$tag: clusterctl scale 1 exits 0") or diag($out, $err);
	settled_ok($ctl, 1, 1, "$tag: down to 1");
	ok(wait_load($load, 20), "$tag: the load goes on");
	my $r = stop_load($load);
	is($r->{failed}, 0, "$tag: scale down under load: no failed request out of $r->{ok}")
	    or diag(join("\n", @{ $r->{errors} }));
	ok(wait_for(sub { live_workers($c->pid, 'hello') == 1 }, 5, 'one worker'),
	    "$tag: one worker process left");
	stop_ok($c, $tag);
}

# --- stop while a slot is in backoff ---
($c, $ctl, $dir) = pool('stop-backoff', 2, '',
    "ready = notify\nbackoff_initial = 20s", "crash 1 *\n");
ok(wait_row($ctl, 1, sub { $_[0]{state} eq 'backoff' }, 'slot 1 in backoff'),
    'stop in backoff: status: slot 1 in backoff (20s)');
my $t0 = Time::HiRes::time();
stop_ok($c, 'stop in backoff');
cmp_ok(Time::HiRes::time() - $t0, '<', timeout(3), 'stop in backoff: at once');
ok(!$c->log_matches(qr/worker 1 \(pid \d+\) started(?s:.*)worker 1 \(pid \d+\) started(?s:.*)worker 1 \(pid \d+\) started/),
    'stop in backoff: slot 1 was not started a third time');
is_deeply([tagged_pids()], [], 'stop in backoff: nothing left running');

# --- stop while a worker starts (it holds READY=1) ---
($c, $ctl, $dir) = pool('stop-starting', 2, '',
    "ready = notify\nready_timeout = 30s", "gate 0 *\n");
$row = wait_row($ctl, 0, sub { $_[0]{state} eq 'starting' && $_[0]{pid} },
    'slot 0 starting');
ok($row, 'stop while starting: status: slot 0 starting');
# (once it runs, it has its SIGTERM handler: up-GEN-SLOT says so)
ok(wait_for(sub { -e "$dir/up-1-0" }, 5, 'slot 0 to run'),
    'stop while starting: the worker runs, waiting for its gate');
stop_ok($c, 'stop while starting');
like(log_text($c), qr/^clusterd: worker 0 \(pid $row->{pid}\) exited with status 0$/m,
    'stop while starting: the starting worker got SIGTERM and exited 0');
ok(!$c->log_matches(qr/workers ready/), 'stop while starting: never all ready');
is_deeply([tagged_pids()], [], 'stop while starting: nothing left running');

# --- stop during a rolling restart ---
($c, $ctl, $dir) = pool('stop-rolling', 3, 'restart_batch = 2',
    "ready = notify\nready_timeout = 30s", "gate * new\n");
settled_ok($ctl, 3, 1, 'stop during a restart: start');
my $h = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
ok(wait_for(sub { 2 == grep { $_->{generation} == 2 && $_->{state} eq 'starting' }
    @{ (ctl_status($ctl) // {})->{workers} // [] } }, 5, 'the first batch'),
    'stop during a restart: status: two new workers starting');
$st = ctl_status($ctl) // {};
is($st->{state}, 'restarting', 'stop during a restart: status: restarting');
stop_ok($c, 'stop during a restart');
($code, $out, $err) = finish_clusterctl($h);
is($code, 1, 'stop during a restart: clusterctl restart exits 1');
like($out . $err, qr/clusterd is stopping/,
    'stop during a restart: the answer: clusterd is stopping')
    or diag($out, $err);
is_deeply([tagged_pids()], [], 'stop during a restart: nothing left running');

done_testing();
