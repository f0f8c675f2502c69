# Rolling restarts that fail, in both restart modes with restart_batch > 1:
# the new generation cannot exec, dies before it is ready, or misses
# ready_timeout, in the first batch or a later one.  Each time clusterctl
# gets the rollback message, the log says "rolled back to generation 1", and
# status (text and json) settles with every slot ready on the old
# generation.  Also: the rollback whose old program fails too, and the
# replace-mode rollback that loses a slot (issue 12: an old worker still
# stopping when the rollback starts exits 0, and with restart = on-failure
# its slot was left "done", 2 of 3 ready for good).
#
# When the old program fails too, in replace mode the moved slots start the
# old program again by the usual rules (backoff); in surge mode a moved
# slot keeps its working new worker and is replaced again by the backoff
# rule until the old program works. Before issue 12's rewrite the surge
# slots stayed on the failed generation for good, and a replace-mode slot
# could be left empty for good, shown as "backoff".
#
# The workers are t/bin/slot-worker (ready = notify); a rules file in its
# directory says which slot of which generation fails and how.  Rolling
# restarts under load and the request queue are in t/rollout-load.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $WORKER = "$TOP_SRCDIR/t/bin/slot-worker";
my $RT = timeout(2);	# ready_timeout: slot-worker is ready in ~50ms idle
my $rt_re = dur_re($RT);

# pool(TAG, workers => N, batch => B, mode => surge|replace, restart =>,
# program => extra [program] lines, env => extra [env] lines): a running
# clusterd of slot-workers, settled at generation 1.
sub pool {
	my ($tag, %o) = @_;
	my $dir = "$TMPDIR/$tag";
	mkdir($dir) or die "$dir: $!";
	my $p = { tag => $tag, dir => $dir, ctl => "$dir/ctl.sock",
	    n => $o{workers}, batch => $o{batch} // 1 };
	$p->{text} = <<"END";
[clusterd]
workers = $o{workers}
restart_batch = $p->{batch}
control = $p->{ctl}
[program]
command = $WORKER
ready = notify
ready_timeout = $RT
restart_mode = ${\ ($o{mode} // 'surge')}
restart = ${\ ($o{restart} // 'always')}
${\ ($o{program} // '')}
[env]
SLOT_DIR = $dir
${\ ($o{env} // '')}
END
	$p->{conf} = write_file("$dir/clusterd.conf", $p->{text});
	$p->{c} = start_clusterd(args => ['-c', $p->{conf}, '-l', 'none']);
	ok(wait_settled($p->{ctl}, $p->{n}, 1), "$tag: $p->{n} workers ready");
	return $p;
}

sub rules {
	my ($p, @rules) = @_;
	write_file("$p->{dir}/fail", join('', map { "$_\n" } @rules));
}

# Ask for a restart (or a reload) that fails with $why (a regex) in slot
# $slot (a regex too); check the answer, the log and the status after it.
sub fails {
	my ($p, $what, $slot, $why, $tag) = @_;
	$tag = "$p->{tag}, $tag";
	my $mark = length(log_text($p->{c}));
	my ($code, $out, $err) = clusterctl($p->{ctl}, $what);
	is($code, 1, "$tag: clusterctl $what exits 1");
	like($out . $err, qr/rolling restart to generation \d+ failed: worker $slot \(pid \d+\) $why; rolled back$/m,
	    "$tag: the answer: failed: worker $slot ...; rolled back")
	    or diag($out, $err);
	like(substr(log_text($p->{c}), $mark),
	    qr/^clusterd: rolling restart to generation \d+ failed: worker $slot \(pid \d+\) $why; rolling back\n(?s:.*)^clusterd: rolled back to generation 1$/m,
	    "$tag: log: failed ...; rolling back, then rolled back to generation 1");
	unlink("$p->{dir}/fail");
	settled_ok($p->{ctl}, $p->{n}, 1, $tag);
}

sub stop_pool {
	my ($p) = @_;
	kill TERM => $p->{c}->pid;
	is(wait_exit($p->{c}), 0, "$p->{tag}: exit 0");
}

# --- The lost slot (issue 12) ---
# replace, batch 2: the old workers of slots 0 and 1 are stopped together;
# slot 0's exits at once, slot 1's only once the test says so.  The new
# worker of slot 0 crashes: the rollback starts while slot 1's old worker
# is still stopping, and that worker's exit 0 must not count as the end of
# slot 1 (restart = on-failure would leave it done).
my $p = pool('lost', workers => 3, batch => 2, mode => 'replace',
    restart => 'on-failure', env => "TERM_DELAY = 1=$TMPDIR/lost/release");
rules($p, 'crash 0 new');
my $h = spawn_clusterctl(args => ['-s', $p->{ctl}, 'restart']);
ok($p->{c}->wait_log(qr/^clusterd: rolling restart to generation 2 failed: worker 0 \(pid \d+\) exited with status 1 before it was ready; rolling back$/m),
    'lost: log: ... failed: worker 0 ... exited with status 1 before it was ready; rolling back');
ok(!$p->{c}->log_matches(qr/^clusterd: worker 1 \(pid \d+\) exited/m),
    "lost: slot 1's old worker is still stopping");
write_file("$TMPDIR/lost/release", '');	# now it exits 0
my ($code, $out, $err) = finish_clusterctl($h);
is($code, 1, 'lost: clusterctl restart exits 1');
like($out . $err, qr/rolling restart to generation 2 failed: worker 0 \(pid \d+\) exited with status 1 before it was ready; rolled back$/m,
    'lost: the answer: failed: worker 0 ... exited with status 1 before it was ready; rolled back')
    or diag($out, $err);
ok($p->{c}->wait_log(qr/^clusterd: rolled back to generation 1$/m),
    'lost: log: rolled back to generation 1');
ok($p->{c}->wait_log(qr/^clusterd: worker 1 \(pid \d+\) exited with status 0/m),
    "lost: slot 1's old worker has exited");
settled_ok($p->{ctl}, 3, 1, 'lost');
stop_pool($p);

# --- The matrix: 2 modes x (batch 2 of 4, batch 3 of 5) x 3 ways to fail ---
# Each pool sees the three failures once, one of them in the first batch
# and another in a later one; together both positions for each.
my $exit1 = 'exited with status 1 before it was ready';
my $noready = "not ready within $rt_re";
for my $mode (qw(surge replace)) {
	# batch 2 of 4: crash in the first batch, never ready in the last
	# slot, a command that does not exist (the first batch, as always)
	$p = pool("$mode-b2", workers => 4, batch => 2, mode => $mode);
	rules($p, 'crash 1 new');
	fails($p, 'restart', 1, $exit1, 'crash in the first batch');
	rules($p, 'hang 3 new');
	fails($p, 'restart', 3, $noready, 'never ready in a later batch');
	write_file($p->{conf}, $p->{text} =~ s/^command = .*$/command = $p->{dir}\/missing/mr);
	# (every slot fails; in replace mode the first of the batch to
	# spawn is the one whose old worker exited first)
	fails($p, 'reload', '[01]',
	    qr/cannot run \S+\/missing: No such file or directory before it was ready/,
	    'cannot exec (reload to a missing command)');
	stop_pool($p);

	# batch 3 of 5: never ready in the first batch, crash in the last
	# slot, exec refused after the first batch (the first batch's workers
	# take the execute bit off their own file before they are ready)
	$p = pool("$mode-b3", workers => 5, batch => 3, mode => $mode);
	rules($p, 'hang 0 new');
	fails($p, 'restart', 0, $noready, 'never ready in the first batch');
	rules($p, 'crash 4 new');
	fails($p, 'restart', 4, $exit1, 'crash in a later batch');
	my $copy = write_file("$p->{dir}/next-worker", slurp($WORKER), 0755);
	write_file($p->{conf}, $p->{text} =~ s/^command = .*$/command = $copy/mr);
	rules($p, 'chmod * new 3');
	fails($p, 'reload', '[34]',
	    qr/cannot run \S+\/next-worker: Permission denied before it was ready/,
	    'cannot exec in a later batch');
	stop_pool($p);
}

# --- The old program fails too ---
# surge, batch 2 of 4: slots 0 and 1 move, slot 2's new worker crashes;
# slots 0 and 1 go back to the old program, which now crashes as well.
# The pool never drops below 4 ready (the new workers keep serving); once
# the old program works again, its slots restart by the usual rules.
for my $mode (qw(surge replace)) {
	$p = pool("oldfails-$mode", workers => 4, batch => 2, mode => $mode,
	    program => 'backoff_initial = 100ms');
	rules($p, 'crash 2 new', 'crash * old');
	my ($code, $out, $err) = clusterctl($p->{ctl}, 'restart');
	is($code, 1, "oldfails-$mode: clusterctl restart exits 1");
	like($out . $err, qr/rolling restart to generation 2 failed: worker 2 \(pid \d+\) $exit1; rolled back$/m,
	    "oldfails-$mode: the answer: failed: worker 2 ...; rolled back")
	    or diag($out, $err);
	ok($p->{c}->wait_log(qr/^clusterd: rollback to generation 1: worker [01] \(pid \d+\) $exit1$/m),
	    "oldfails-$mode: log: rollback to generation 1: worker X ... $exit1");
	ok($p->{c}->wait_log(qr/^clusterd: rolled back to generation 1$/m),
	    "oldfails-$mode: log: rolled back to generation 1");
	unlink("$p->{dir}/fail");
	settled_ok($p->{ctl}, 4, undef, "oldfails-$mode");
	# surge: a moved slot whose old program failed keeps serving with its
	# new worker and is replaced again by the backoff rule.
	ok(wait_settled($p->{ctl}, 4, 1, 10),
	    "oldfails-$mode: once the old program works, every slot is back on generation 1");
	ok($p->{c}->log_matches(qr/^clusterd: worker [01] \(pid \d+\) runs generation 2, its slot 1: replacing it$/m),
	    "oldfails-$mode: log: a slot left on generation 2 is replaced again")
	    if $mode eq 'surge';
	# A next restart fails in a slot that runs the failed generation
	# (slot 0 when none does): every slot must end with a ready worker.
	my ($odd) = map { $_->{id} } grep { ($_->{generation} // 1) != 1 }
	    @{ (ctl_status($p->{ctl}) // {})->{workers} // [] };
	rules($p, 'crash ' . ($odd // 0) . ' new');
	($code, $out, $err) = clusterctl($p->{ctl}, 'restart');
	is($code, 1, "oldfails-$mode, then a restart that fails: exits 1");
	unlink("$p->{dir}/fail");
	ok(wait_settled($p->{ctl}, 4, undef, 5),
	    "oldfails-$mode, then a restart that fails: 4 of 4 ready");
	stop_pool($p);
}

done_testing();
