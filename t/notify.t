# Readiness over NOTIFY_SOCKET (ready = notify): one private socket per
# worker; READY=1 makes a worker ready (starting until then), STATUS= shows
# in clusterctl status, a short-lived sender (systemd-notify) works, bad
# datagrams (fds attached, oversized, malformed) are dropped with a log
# line and leak nothing, ready_timeout stops a worker that never says
# READY=1; ready = DURATION waits that long.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use File::Basename qw(dirname);
use Time::HiRes qw(time);

my $n = 0;
sub conf {
	my ($program) = @_;
	my $ctl = "$TMPDIR/ctl" . ++$n . ".sock";
	my $conf = write_file("$TMPDIR/n$n.conf",
	    "[clusterd]\ncontrol = $ctl\n[program]\n$program");
	return ($conf, $ctl);
}
sub rows {
	my ($ctl) = @_;
	my $st = ctl_status($ctl) // {};
	return { map { ($_->{id} => $_) } @{ $st->{workers} // [] } };
}

# --- READY=1 and STATUS=, per worker ---
my ($conf, $ctl) = conf("ready = notify\n");
my $c = start_clusterd(args => ['-n', 2, '-l', 'none', '-c', $conf, '--',
    $PYTHON3, $NOTIFY_WORKER, "touch=$TMPDIR/up-{worker}",
    "wait=$TMPDIR/go-{worker}", 'send=READY=1\nSTATUS=serving {worker}',
    "wait=$TMPDIR/busy", 'send=STATUS=busy {worker}']);
ok(wait_for(sub { -e "$TMPDIR/up-0" && -e "$TMPDIR/up-1" }, 5),
    'both workers run');
my @w = live_workers($c->pid, 'python3');
is(scalar(@w), 2, 'two workers');
my %pid = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => $_) } @w;
my ($w0, $w1) = @pid{0, 1};
my $cpid = $c->pid;

my $r = rows($ctl);
is($r->{0}{state}, 'starting', 'before READY=1: worker 0 is starting');
is($r->{1}{state}, 'starting', 'before READY=1: worker 1 is starting');
my ($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 3, 'before READY=1: clusterctl status exits 3');
like($out, qr/^clusterd \(pid $cpid\), up .*, generation 1, 0 of 2 workers ready$/m,
    'status header: 0 of 2 workers ready') or diag($out, $err);
like($out, qr/^0\s+$w0\s+starting\s+1\s/m, 'status row: 0 PID starting 1');
ok(!$c->log_matches(qr/workers ready/), 'no "workers ready" yet');

write_file("$TMPDIR/go-0", '');
ok(wait_for(sub { (rows($ctl)->{0}{state} // '') eq 'ready' }, 5),
    'READY=1 from worker 0: it is ready');
$r = rows($ctl);
is($r->{1}{state}, 'starting', 'worker 1 is still starting');
is($r->{0}{status}, 'serving 0', 'STATUS= of worker 0 in status json');
ok(!defined $r->{1}{status}, 'worker 1 has no STATUS= yet (null)');
write_file("$TMPDIR/go-1", '');
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), 'log: 2 workers ready');
($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 0, 'all ready: clusterctl status exits 0');
like($out, qr/, 2 of 2 workers ready$/m, 'status header: 2 of 2 workers ready');
like($out, qr/^0\s+$w0\s+ready\s+1\s.*\bserving 0$/m,
    'status row of worker 0 ends with its STATUS= text') or diag($out);
like($out, qr/^1\s+$w1\s+ready\s+1\s.*\bserving 1$/m,
    'status row of worker 1 ends with its STATUS= text');
write_file("$TMPDIR/busy", '');
ok(wait_for(sub { (rows($ctl)->{1}{status} // '') eq 'busy 1' }, 5),
    'a later STATUS= replaces the text');

# One private socket per worker.
my %ns = map { ($_ => proc_env($pid{$_})->{NOTIFY_SOCKET}) } 0, 1;
ok($ns{0} && $ns{1}, 'both workers have NOTIFY_SOCKET');
isnt($ns{0}, $ns{1}, 'NOTIFY_SOCKET differs per worker');
for my $id (0, 1) {
	my $p = $ns{$id} // '';
	ok(-S $p, "worker $id: NOTIFY_SOCKET is a socket file ($p)");
	my @st = stat(dirname($p));
	is(sprintf('%o', ($st[2] // 0) & 07777), '700', "worker $id: in a 0700 directory");
	is($st[4], $<, "worker $id: the directory is ours");
}
# A socket file per worker start: on tmpfs, not on a disk, where /dev/shm is.
SKIP: {
	my $fs = sub { my $t = `stat -f -c %T '$_[0]' 2>/dev/null`; chomp $t; $t };
	skip('/dev/shm is not a tmpfs here', 1) unless $fs->('/dev/shm') eq 'tmpfs';
	is($fs->(dirname($ns{0} // '/nonexistent')), 'tmpfs',
	    'the notify directory is on tmpfs (' . dirname($ns{0} // '') . ')');
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(!-e $ns{0} && !-e $ns{1}, 'the notify sockets are removed at exit');

# --- systemd-notify, a short-lived sender, from the worker's script ---
SKIP: {
	skip('no systemd-notify', 4) unless -x '/usr/bin/systemd-notify';
	($conf, $ctl) = conf("ready = notify\nready_timeout = 10s\n");
	$c = start_clusterd(args => ['-n', 1, '-l', 'none', '-c', $conf, '--',
	    '/bin/sh', '-c', 'systemd-notify --ready --status="via systemd-notify";'
	    . " echo \$? > $TMPDIR/sdn.rc; exec sleep 1000"]);
	ok($c->wait_log(qr/^clusterd: 1 workers? ready$/m, 8),
	    'systemd-notify --ready: the worker is ready');
	ok(wait_for(sub { -s "$TMPDIR/sdn.rc" }, 5), 'systemd-notify returned');
	is(slurp("$TMPDIR/sdn.rc"), "0\n", 'systemd-notify exited 0');
	is(rows($ctl)->{0}{status}, 'via systemd-notify', '--status= reached clusterd');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# --- dropped messages: fds attached, oversized, malformed ---
my $secret = write_file("$TMPDIR/secret-file", "secret\n");
($conf, $ctl) = conf("ready = notify\n");
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '-c', $conf, '--',
    $PYTHON3, $NOTIFY_WORKER, 'send=READY=1\nSTATUS=clean',
    "wait=$TMPDIR/bad-go", "sendfd=$secret:STATUS=with-fd", 'big=5000',
    'send=STATUS=nul\0byte', 'send=no equals sign',
    'send=STATUS=after', "touch=$TMPDIR/bad-done"]);
ok($c->wait_log(qr/^clusterd: 1 workers? ready$/m), 'the worker is ready');
@w = live_workers($c->pid, 'python3');
my $wp = $w[0] // 0;
is(rows($ctl)->{0}{status}, 'clean', 'STATUS=clean');
my $fds_before = scalar(keys %{ proc_fds($c->pid) // {} });
write_file("$TMPDIR/bad-go", '');
ok(wait_for(sub { -e "$TMPDIR/bad-done" && (rows($ctl)->{0}{status} // '') eq 'after' }, 5),
    'the good message after the bad ones is read');
my $log = log_text($c);
like($log, qr/^clusterd: worker 0 \(pid $wp\): dropped notify message with file descriptors attached$/m,
    'log: dropped notify message with file descriptors attached');
like($log, qr/^clusterd: worker 0 \(pid $wp\): dropped oversized notify message$/m,
    'log: dropped oversized notify message');
is(scalar(() = $log =~ /^clusterd: worker 0 \(pid $wp\): dropped malformed notify message$/mg), 2,
    'log: dropped malformed notify message, twice (a NUL byte, a line without =)');
my $fds = proc_fds($c->pid) // {};
ok(!(grep { $_ eq $secret } values %$fds), 'the fd that came along is not kept open');
is(scalar(keys %$fds), $fds_before, "clusterd's fd count is unchanged ($fds_before)")
    or diag(explain($fds));
ok(!(grep { ($_->{status} // '') =~ /with-fd|nul|xxxx/ } values %{ rows($ctl) }),
    'no dropped message changed the status');
ok(alive($wp), 'the worker still runs');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# --- ready_timeout: never READY=1 -> stopped, a failed start (backoff) ---
($conf, $ctl) = conf("ready = notify\nready_timeout = 500ms\n");
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '-c', $conf, '--',
    $PYTHON3, $NOTIFY_WORKER, 'send=STATUS=never ready']);
my $half = dur_re(0.5);
my ($p1) = $c->wait_log(qr/^clusterd: worker 0 \(pid (\d+)\) not ready within $half; stopping it$/m, 5);
ok($p1, 'log: worker 0 (pid X) not ready within 500ms; stopping it');
ok(wait_for(sub { !alive($p1 // 0) }, 5), 'that worker is stopped');
my $p1n = $p1 // 0;
my ($p2) = $c->wait_log(qr/^clusterd: worker 0 \(pid (?!$p1n\))(\d+)\) not ready within $half; stopping it$/m, 5);
ok($p2, 'the replacement is not ready in time either');
my $back = dur_re(0.1);
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $p2\) .*; restarting in $back$/m, 5),
    'the second failed start waits backoff_initial (100ms)') if $p2;
ok(!$c->log_matches(qr/workers? ready$/m), 'never "workers ready"');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# --- ready = 1s: ready after one second alive ---
($conf, $ctl) = conf("ready = 1s\n");
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '-c', $conf, '--',
    'sleep', '1000']);
@w = wait_workers($c->pid, 1, 5, 'sleep');
my $t0 = time();
is(rows($ctl)->{0}{state}, 'starting', 'ready = 1s: starting at first');
ok($c->wait_log(qr/^clusterd: 1 workers? ready$/m, 5), 'ready = 1s: then ready');
cmp_ok(time() - $t0, '>', 0.5, 'ready = 1s: not at once');
is(rows($ctl)->{0}{state}, 'ready', 'ready = 1s: status ready');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
