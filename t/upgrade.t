# clusterctl upgrade and SIGUSR1 (clusterd(8), UPGRADING CLUSTERD): the same
# clusterd process execs another build of itself and keeps its pid, its
# listening socket and its workers.  Under a connection-per-request load,
# 20 upgrades in a row between two builds (t/alt/clusterd is the same code
# built with another version) lose no request; then what must leave the old
# image serving: a path that is not there, a program that exits at once, a
# new image that cannot take the cluster over (it falls back to the old
# binary), and an upgrade asked for while the cluster is not at rest.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Time::HiRes qw(time);

my $ALT = "$TOP_BUILDDIR/t/alt/clusterd";
plan(skip_all => "$ALT is not built") unless -x $ALT;

sub version_of {
	my ($bin) = @_;
	my $v = `$bin --version`;
	chomp($v);
	$v =~ s/^clusterd //;
	return $v;
}
my ($V1, $V2) = (version_of($CLUSTERD), version_of($ALT));
like($V2, qr/-alt /, "the two builds differ: $V1 and $V2");

# n (2) hello workers, or command, on a port of their own, with a control
# socket NAME.sock, settled: (clusterd, the control socket, the port,
# {slot => pid}).
sub cluster {
	my ($tag, $name, %o) = @_;
	my ($ctl, $port, $n) = ("$TMPDIR/$name.sock", free_port(), $o{n} // 2);
	my $c = start_clusterd(args => ['-n', $n, @{ $o{args} // [] }, '-l',
	    "127.0.0.1:$port", '-s', $ctl, '--', @{ $o{command} // [$HELLO] }],
	    env => $o{env} // {});
	ok(wait_settled($ctl, $n, 1), "$tag: $n ready");
	return ($c, $ctl, $port, workers_of($ctl));
}

sub workers_of {
	my ($ctl) = @_;
	my $st = ctl_status($ctl) or return {};
	return { map { $_->{id} => $_->{pid} } grep { $_->{pid} } @{ $st->{workers} } };
}

# --- 20 upgrades under load ---
my $port = free_port();
my $ctl = "$TMPDIR/up.sock";
my $c = start_clusterd(args => ['-n', 3, '-l', "127.0.0.1:$port", '-s', $ctl,
    '--', $HELLO]);
ok(wait_settled($ctl, 3, 1), '3 workers ready');
my $pid = $c->pid;
my $before = workers_of($ctl);
my @inodes = sort keys %{ listen_sockets($port) };
is(scalar(@inodes), 1, "one socket listens on port $port");
ok(scalar(grep { /^socket:\[$inodes[0]\]$/ } map { readlink($_) // '' } glob("/proc/$pid/fd/*")),
    "clusterd holds it (inode $inodes[0])");
my $load = start_load($port, max => 60);
ok(wait_load($load, 20), 'the load runs');
my ($ok, $said, @ms) = (0, '');
for my $i (1 .. 20) {
	my ($to, $from) = $i % 2 ? ($ALT, $CLUSTERD) : ($CLUSTERD, $ALT);
	my ($vto, $vfrom) = $i % 2 ? ($V2, $V1) : ($V1, $V2);
	my ($code, $out, $err) = clusterctl($ctl, 'upgrade', $to);
	if ($code == 0 && ($out . $err) =~ /^upgraded from \Q$vfrom\E to \Q$vto\E in (\d+) ms$/m) {
		$ok++;
		push(@ms, $1);
	} else {
		$said = "upgrade $i: exit $code: $out$err";
		last;
	}
}
is($ok, 20, '20 upgrades in a row, alternating the two builds, each answered '
    . '"upgraded from A to B in N ms"') or diag($said);
ok(wait_load($load, 20), 'the load goes on');
my $r = stop_load($load);
is($r->{failed}, 0, "no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
ok(alive($pid), "the same clusterd process (pid $pid)");
is_deeply([sort keys %{ listen_sockets($port) }], \@inodes,
    'the same listening socket (inode)');
is_deeply(workers_of($ctl), $before, 'the same worker pids');
my $st = ctl_status($ctl);
is($st->{version}, $V1, "status --json says the new version ($V1)");
is(scalar(grep { $_->{state} eq 'ready' && $_->{generation} == 1 }
    @{ $st->{workers} }), 3, 'every worker ready, generation 1');
ok($c->wait_log(qr/^clusterd: upgraded from \Q$V2\E to \Q$V1\E in \d+ ms$/m),
    'the log says "upgraded from A to B in N ms"');

# A worker that dies after an upgrade is restarted as before.
my $victim = $before->{1};
kill KILL => $victim;
ok(wait_for(sub { my $w = workers_of($ctl); $w->{1} && $w->{1} != $victim }, 10,
    'slot 1 restarted'), 'a worker killed after the upgrades is restarted');
ok(wait_settled($ctl, 3, 1), '3 ready again');

# SIGUSR1: to the binary clusterd was started as.
kill USR1 => $pid;
ok($c->wait_log(qr/^clusterd: upgraded from \Q$V1\E to \Q$V1\E in \d+ ms$/m),
    'SIGUSR1 upgrades to its own binary');

# --- what leaves the old image serving ---
$before = workers_of($ctl);
my ($code, $out, $err) = clusterctl($ctl, 'upgrade', "$TMPDIR/no-such-clusterd");
is($code, 1, 'a path that is not there: exit 1');
like($out . $err, qr/upgrade refused: \Q$TMPDIR\E\/no-such-clusterd: No such file/,
    'and says why');
my $quitter = write_file("$TMPDIR/quitter", "#!/bin/sh\necho 'not a clusterd' >&2\nexit 7\n");
chmod(0755, $quitter);
($code, $out, $err) = clusterctl($ctl, 'upgrade', $quitter);
is($code, 1, 'a program that exits at once: exit 1');
like($out . $err, qr/--check-upgrade exited with status 7: not a clusterd; clusterd \Q$V1\E goes on/,
    'its check failed: what it said, and that the old one goes on');
my $txt = write_file("$TMPDIR/not-exec", "x\n");
($code, $out, $err) = clusterctl($ctl, 'upgrade', $txt);
like($out . $err, qr/not an executable file/, 'a file that is not executable is refused');
is_deeply(workers_of($ctl), $before, 'the same workers');
is(http_get('127.0.0.1', $port) =~ /^hello world from worker \d/ ? 1 : 0, 1,
    'and they answer');
($code, $out, $err) = clusterctl($ctl, 'upgrade', 'relative/path');
is($code, 1, 'a relative path that is not there: clusterctl exits 1')
    or diag($out, $err);

# Not at rest, refused: clusterd stopping is the one case a test can hold.
# (A rollout and a backoff are carried over: below.)

kill TERM => $pid;
is(wait_exit($c), 0, 'SIGTERM after the upgrades: exit 0');
ok(!-e $ctl, 'the control socket is removed at exit');

# --- a rolling restart in progress survives upgrades, in both modes ---
# ready = 1s: each new worker takes a second, so the restart of 3 slots one
# at a time runs for about 3s, while clusterd is upgraded three times.
for my $mode ('surge', 'replace') {
	my $conf = write_file("$TMPDIR/roll-$mode.conf", <<"END");
[clusterd]
workers = 3
restart_batch = 1
[program]
command = $HELLO
ready = 1s
restart_mode = $mode
END
	my $ctl2 = "$TMPDIR/roll-$mode.sock";
	my $port2 = free_port();
	my $c2 = start_clusterd(args => ['-l', "127.0.0.1:$port2", '-s', $ctl2, '-c', $conf]);
	ok(wait_settled($ctl2, 3, 1, 10), "$mode: 3 ready");
	my @inodes2 = sort keys %{ listen_sockets($port2) };
	my $load2 = start_load($port2, max => 60);
	ok(wait_load($load2, 20), "$mode: the load runs");
	my $restart = spawn_clusterctl(args => ['-s', $ctl2, 'restart']);
	ok(wait_for(sub { my $st = ctl_status($ctl2) // {};
	    grep { ($_->{slot_state} // '') =~ /^(?:replacing|handover)$/ } @{ $st->{workers} // [] } },
	    10, 'a slot being replaced'), "$mode: a rolling restart runs, a slot is being replaced");
	my $ups = 0;
	for my $to ($ALT, $CLUSTERD, $ALT) {
		my ($code, $out, $err) = clusterctl($ctl2, 'upgrade', $to);
		$ups++ if $code == 0 && ($out . $err) =~ /^upgraded from /m;
		diag($out, $err) if $code;
	}
	is($ups, 3, "$mode: 3 upgrades during the rolling restart");
	my ($rcode, $rout, $rerr) = finish_clusterctl($restart, 30);
	is($rcode, 0, "$mode: the clusterctl restart that waited through the upgrades exits 0");
	like($rout . $rerr, qr/rolling restart to generation 2 done/,
	    "$mode: and is told the restart is done");
	ok(wait_settled($ctl2, 3, 2, 10), "$mode: 3 ready, all of generation 2");
	ok(wait_load($load2, 20), "$mode: the load goes on");
	my $r2 = stop_load($load2);
	is($r2->{failed}, 0, "$mode: no failed request out of $r2->{ok}")
	    or diag(join("\n", @{ $r2->{errors} }));
	is_deeply([sort keys %{ listen_sockets($port2) }], \@inodes2,
	    "$mode: the same listening socket");
	is(scalar(() = $c2->log_text =~ /^clusterd: rolling restart to generation 2 \(/mg), 1,
	    "$mode: one rolling restart, not begun again");
	ok(!$c2->log_matches(qr/rolling back|falling back/), "$mode: no rollback, no fallback");
	stop_ok($c2, "$mode");
}

# --- reuseport: each slot's socket and the steering carry over ---
{
	my ($c5, $ctl5, $port5, $w5) = cluster('reuseport', 'rp', n => 3,
	    args => ['--reuseport']);
	my @inodes5 = sort keys %{ listen_sockets($port5) };
	is(scalar(@inodes5), 3, 'reuseport: a socket per slot');
	my $load5 = start_load($port5, max => 60);
	ok(wait_load($load5, 20), 'reuseport: the load runs');
	my $ups = 0;
	for my $to ($ALT, $CLUSTERD, $ALT, $CLUSTERD) {
		my ($code, $out, $err) = clusterctl($ctl5, 'upgrade', $to);
		$ups++ if $code == 0;
		diag($out, $err) if $code;
	}
	is($ups, 4, 'reuseport: 4 upgrades');
	ok(wait_load($load5, 20), 'reuseport: the load goes on');
	my $r5 = stop_load($load5);
	is($r5->{failed}, 0, "reuseport: no failed request out of $r5->{ok}")
	    or diag(join("\n", @{ $r5->{errors} }));
	is_deeply([sort keys %{ listen_sockets($port5) }], \@inodes5,
	    'reuseport: the same sockets');
	is_deeply(workers_of($ctl5), $w5, 'reuseport: the same workers');
	is_deeply(hello_ids($port5, 3), [0, 1, 2], 'reuseport: every slot still gets connections');
	my ($code, $out, $err) = clusterctl($ctl5, 'scale', 4);
	ok(wait_settled($ctl5, 4, 1), 'reuseport: scaled up to 4 after the upgrades');
	is_deeply(hello_ids($port5, 4), [0, 1, 2, 3], 'reuseport: and the new slot is steered to');
	stop_ok($c5, 'reuseport');
}

# --- a slot in backoff keeps its backoff across an upgrade ---
{
	my $flag = "$TMPDIR/crash-1";
	my $conf = write_file("$TMPDIR/backoff.conf", <<"END");
[clusterd]
workers = 2
[program]
backoff_initial = 3s
stable_after = 60s
END
	my $ctl3 = "$TMPDIR/backoff.sock";
	my $port3 = free_port();
	my $c3 = start_clusterd(args => ['-l', "127.0.0.1:$port3", '-s', $ctl3, '-c', $conf,
	    '--', '/bin/sh', '-c',
	    qq{[ "\$CLUSTERD_WORKER_ID" = 1 ] && [ -e '$flag' ] && exit 3; exec '$HELLO'}]);
	ok(wait_settled($ctl3, 2, 1), 'backoff: 2 ready');
	write_file($flag, '');
	kill KILL => workers_of($ctl3)->{1};
	ok($c3->wait_log(qr/^clusterd: worker 1 \(pid \d+\) exited with status 3; restarting in 3s$/m, 10),
	    'backoff: slot 1 crashes at once and backs off 3s');
	my $t0 = time();
	my $st = ctl_status($ctl3);
	my ($row) = grep { $_->{id} == 1 } @{ $st->{workers} };
	is($row->{slot_state}, 'backoff', 'backoff: slot 1 is in backoff');
	my $restarts = $row->{restarts};
	my ($code, $out, $err) = clusterctl($ctl3, 'upgrade', $ALT);
	is($code, 0, 'backoff: upgraded during the backoff') or diag($out, $err);
	$st = ctl_status($ctl3);
	($row) = grep { $_->{id} == 1 } @{ $st->{workers} };
	is($row->{slot_state}, 'backoff', 'backoff: after the upgrade, slot 1 is still in backoff');
	is($row->{restarts}, $restarts, "backoff: its restart count is kept ($restarts)");
	unlink($flag);
	ok(wait_settled($ctl3, 2, 1, 15), 'backoff: slot 1 starts again when its backoff ends');
	cmp_ok(time() - $t0, '>=', 2.5,
	    'backoff: not at once: the upgrade kept the time left, and did not restart it');
	stop_ok($c3, 'backoff');
}


# --- a worker's cgroup is still its own after an upgrade: a rolling
# restart after it stops each old worker's daemons with it ---
SKIP: {
	my $FAMILY = "$TOP_SRCDIR/t/bin/family-worker";
	my $fdir = "$TMPDIR/family";
	mkdir($fdir) or die "$fdir: $!";
	my ($c7, $ctl7) = cluster('cgroups', 'fam',
	    command => ['/usr/bin/perl', $FAMILY, '--family', $fdir]);
	my $st = ctl_status($ctl7) // {};
	unless (($st->{cgroups} // {})->{mode} && $st->{cgroups}{mode} ne 'off') {
		kill TERM => $c7->pid;
		wait_exit($c7);
		skip('no per-worker cgroups here', 6);
	}
	my @fam = map { wait_family($fdir, $_, 1) } 0, 1;
	my @daemons = map { $_->{daemon} } grep { $_ } @fam;
	is(scalar(@daemons), 2, 'cgroups: each worker left a daemon');
	my ($code, $out, $err) = clusterctl($ctl7, 'upgrade', $ALT);
	is($code, 0, 'cgroups: upgraded') or diag($out, $err);
	($code, $out, $err) = clusterctl($ctl7, 'restart');
	is($code, 0, 'cgroups: a rolling restart after it') or diag($out, $err);
	ok(wait_for(sub { !grep { alive($_) } @daemons }, 10, 'the old daemons to go'),
	    'cgroups: the old workers\' daemons went with them (their cgroups, taken over)');
	ok(wait_settled($ctl7, 2, 2), 'cgroups: 2 ready, generation 2');
	stop_ok($c7, 'cgroups');
}

# --- a worker that dies while clusterd is being replaced ---
# CLUSTERD_TEST_KILL_AT_EXEC=1: the old image kills slot 1's worker after
# writing the state, just before the exec; the new image finds it dead.
{
	my ($c6, $ctl6, undef, $w6) = cluster('died at exec', 'die',
	    env => { CLUSTERD_TEST_KILL_AT_EXEC => 1 });
	my ($code, $out, $err) = clusterctl($ctl6, 'upgrade', $ALT);
	is($code, 0, 'died at exec: the upgrade goes') or diag($out, $err);
	ok($c6->wait_log(qr/^clusterd: worker 1 \(pid $w6->{1}\) killed by signal 9; restarting now$/m),
	    'died at exec: the new image reaps it and says so');
	ok(wait_settled($ctl6, 2, 1), 'died at exec: slot 1 has a worker again');
	my $now = workers_of($ctl6);
	is($now->{0}, $w6->{0}, 'died at exec: slot 0 keeps its worker');
	isnt($now->{1}, $w6->{1}, 'died at exec: slot 1 has a new one');
	is(scalar(my @z = child_zombies($c6->pid)), 0, 'died at exec: no zombie left');
	stop_ok($c6, 'died at exec');
}

# --- state formats: up to a release with a newer one, and back ---
# t/fmt2/clusterd reads formats 1-2 and writes 2 (with a record a format 1
# reader must refuse); back to this build, it must write format 1.
{
	my $FMT2 = "$TOP_BUILDDIR/t/fmt2/clusterd";
	my $V3 = version_of($FMT2);
	my ($c4, $ctl4, $port4, $w4) = cluster('formats', 'fmt');
	my ($code, $out, $err) = clusterctl($ctl4, 'upgrade', $FMT2);
	like($out . $err, qr/^upgraded from \Q$V1\E to \Q$V3\E in \d+ ms$/m,
	    'formats: up to a build that reads formats 1-2 (this one writes 1)');
	($code, $out, $err) = clusterctl($ctl4, 'upgrade', $FMT2);
	is($code, 0, 'formats: from it to itself, in format 2') or diag($out, $err);
	ok($c4->wait_log(qr/\Q$FMT2\E \(\Q$V3\E reads state formats 1-2, state format 2\)/),
	    'formats: it wrote format 2');
	($code, $out, $err) = clusterctl($ctl4, 'upgrade', $CLUSTERD);
	is($code, 0, 'formats: back down to this build: exit 0') or diag($out, $err);
	like($out . $err, qr/^upgraded from \Q$V3\E to \Q$V1\E in \d+ ms$/m,
	    'formats: upgraded from the format 2 build to this one');
	ok($c4->log_matches(qr/upgrade: \Q$CLUSTERD\E reads state formats 1-1: writing format 1$/m),
	    'formats: this build refused format 2, so format 1 was written');
	is_deeply(workers_of($ctl4), $w4, 'formats: the same workers throughout');
	like(http_get('127.0.0.1', $port4) // '', qr/^hello world/, 'formats: they answer');
	stop_ok($c4, 'formats');
}

# --- an exec that fails (test hook): the old image goes on as it was ---
{
	my ($c8, $ctl8, $port8, $w8) = cluster('exec fails', 'execfail',
	    env => { CLUSTERD_TEST_EXEC_FAIL => 1 });
	my $fds = () = glob("/proc/${\ $c8->pid}/fd/*");
	my ($code, $out, $err) = clusterctl($ctl8, 'upgrade', $ALT);
	is($code, 1, 'exec fails: exit 1');
	like($out . $err, qr/upgrade failed: cannot run \Q$ALT\E: Exec format error; clusterd \Q$V1\E goes on/,
	    'exec fails: says so, and that the old one goes on');
	is_deeply(workers_of($ctl8), $w8, 'exec fails: the same workers');
	is(scalar(() = glob("/proc/${\ $c8->pid}/fd/*")), $fds,
	    'exec fails: no descriptor more or less');
	kill KILL => $w8->{0};
	ok(wait_for(sub { my $w = workers_of($ctl8); $w->{0} && $w->{0} != $w8->{0} }, 10,
	    'slot 0 restarted'), 'exec fails: it still supervises (a killed worker is restarted)');
	like(http_get('127.0.0.1', $port8) // '', qr/^hello world/, 'exec fails: they answer');
	stop_ok($c8, 'exec fails');
}

# --- a new image that cannot take the cluster over falls back ---
($c, $ctl, $port, $before) = cluster('fallback', 'fb',
    env => { CLUSTERD_TEST_RESTORE_FAIL => 1 });
($code, $out, $err) = clusterctl($ctl, 'upgrade', $ALT);
is($code, 1, 'fallback: the upgrade fails (exit 1)');
like($out . $err, qr/upgrade failed: .*could not take over; clusterd \Q$V1\E goes on/,
    'fallback: the old binary answers that it goes on');
ok($c->log_matches(qr/falling back to clusterd \Q$V1\E/), 'fallback: logged');
is_deeply(workers_of($ctl), $before, 'fallback: the same workers');
is(ctl_status($ctl)->{version}, $V1, 'fallback: the old version runs');
like(http_get('127.0.0.1', $port) // '', qr/^hello world/, 'fallback: they answer');
stop_ok($c, 'fallback');

done_testing();
