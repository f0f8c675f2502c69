# Telling the service manager (decisions5 "Telling systemd", CONTRACT §6):
# clusterd started with NOTIFY_SOCKET sends READY=1 with STATUS=, STATUS=
# on changes, RELOADING=1 + MONOTONIC_USEC then READY=1 around rolling
# restarts, STOPPING=1, and WATCHDOG=1 every WATCHDOG_USEC/2.  The receiver
# (t/bin/sd-notify-recv) checks the sender's pid as systemd does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);
use IO::Socket::IP;
use Socket qw(SOL_SOCKET SO_ACCEPTCONN);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use Clusterd;

plan(skip_all => "$PYTHON3 is needed") unless -x $PYTHON3;
my $RECV = "$TOP_SRCDIR/t/bin/sd-notify-recv";

sub receiver {
	my ($path, @opt) = @_;
	my $r = start_clusterd(binary => $PYTHON3, args => [$RECV, @opt, $path]);
	$r->wait_log(qr/^bound /m) or BAIL_OUT("sd-notify-recv did not start");
	return $r;
}

# [{pid, usec, text, fields => {K => V}}] received so far.
sub messages {
	my ($r) = @_;
	my @m;
	for (split(/\n/, $r->log_text)) {
		my ($pid, $usec, $text) = /^msg (\d+) (\d+) (.*)$/ or next;
		my %f = map { split(/=/, $_, 2) } grep { /=/ } split(/\|/, $text);
		push(@m, { pid => $pid, usec => $usec, text => $text, f => \%f });
	}
	return @m;
}

sub wait_msg {
	my ($r, $cond, $what, $secs) = @_;
	my $m;
	wait_for(sub { ($m) = grep { $cond->($_) } messages($r); $m }, $secs // 5,
	    $what);
	return $m;
}

sub now_usec { int(clock_gettime(CLOCK_MONOTONIC) * 1e6) }

sub events {	# the READY / RELOADING / STOPPING sequence
	my ($r) = @_;
	return join(' ', map {
		my $f = $_->{f};
		(exists $f->{READY} ? 'READY' : (),
		    exists $f->{RELOADING} ? 'RELOADING' : (),
		    exists $f->{STOPPING} ? 'STOPPING' : ());
	} messages($r));
}

# 1. Start, rolling restarts (clusterctl restart, SIGHUP), stop.
my $npath = "$TMPDIR/notify.sock";
my $r = receiver($npath);
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 4, '-l', '127.0.0.1:0', '-s', $ctl,
    '--', $HELLO], env => { NOTIFY_SOCKET => $npath });
my $ready = wait_msg($r, sub { exists $_[0]{f}{READY} }, 'READY=1');
ok($ready, 'READY=1 received');
my @hello = grep { (proc_stat($_) // {})->{comm} eq 'hello' } worker_pids($c->pid);
is(scalar(@hello), 4, 'READY=1 comes once all four workers run');
is($ready->{f}{READY}, 1, 'READY=1 exactly');
is($ready->{f}{STATUS}, '4 of 4 workers ready, generation 1',
    'READY=1 comes with STATUS=4 of 4 workers ready, generation 1');
is($ready->{pid}, $c->pid, 'sent by clusterd itself (NotifyAccess=main)');
my @m = messages($r);
is(scalar(grep { $_->{pid} != $c->pid } @m), 0, 'every message from clusterd\'s pid');
like($_->{f}{STATUS} // '', qr/^\d+ of 4 workers ready, generation 1$/,
    "STATUS before ready: $_->{text}") for grep { exists $_->{f}{STATUS} } @m;

for my $pid (@hello) {
	my $env = proc_env($pid) // {};
	isnt($env->{NOTIFY_SOCKET} // '', $npath,
	    "$pid: the worker does not get clusterd's NOTIFY_SOCKET");
}

# A worker dies: the ready count drops and comes back, each in a STATUS=.
my $before = scalar(messages($r));
kill KILL => $hello[0];
ok(wait_for(sub {
	my @s = map { $_->{f}{STATUS} // () } (messages($r))[$before .. scalar(messages($r)) - 1];
	join('|', @s) eq '3 of 4 workers ready, generation 1|4 of 4 workers ready, generation 1';
}, 5, 'STATUS=3 of 4, then 4 of 4'), 'a worker killed: STATUS=3 of 4 workers ready, then 4 of 4')
    or diag(map { "$_->{text}\n" } (messages($r))[$before .. scalar(messages($r)) - 1]);
is(events($r), 'READY', 'no READY=1 or RELOADING=1 for that');

# clusterctl restart answers once the rolling restart is done.
my $t0 = now_usec();
my ($code, $out, $err) = clusterctl($ctl, 'restart');
my $t1 = now_usec();
is($code, 0, 'clusterctl restart: exit 0') or diag($out, $err);
my $reloading = wait_msg($r, sub { exists $_[0]{f}{RELOADING} },
    'RELOADING=1');
ok($reloading, 'RELOADING=1 received');
is($reloading->{f}{RELOADING}, 1, 'RELOADING=1 exactly');
my $mono = $reloading->{f}{MONOTONIC_USEC} // 0;
ok($mono >= $t0 && $mono <= $t1,
    'with MONOTONIC_USEC= CLOCK_MONOTONIC (us) when the restart began')
    or diag("MONOTONIC_USEC=$mono, restart between $t0 and $t1");
ok(wait_for(sub { events($r) eq 'READY RELOADING READY' }, 5,
    'READY=1 after RELOADING=1'), 'then READY=1 when it is done')
    or diag(events($r));
my ($last_status) = reverse grep { exists $_->{f}{STATUS} } messages($r);
is($last_status->{f}{STATUS}, '4 of 4 workers ready, generation 2',
    'STATUS=4 of 4 workers ready, generation 2');

# SIGHUP without -c: a rolling restart too.
$t0 = now_usec();
kill HUP => $c->pid;
ok(wait_for(sub { events($r) eq 'READY RELOADING READY RELOADING READY' },
    10, 'the SIGHUP rolling restart'), 'SIGHUP: RELOADING=1 ... READY=1')
    or diag(events($r));
my @rel = grep { exists $_->{f}{RELOADING} } messages($r);
ok(($rel[1]{f}{MONOTONIC_USEC} // 0) >= $t0, 'a fresh MONOTONIC_USEC');
($last_status) = reverse grep { exists $_->{f}{STATUS} } messages($r);
is($last_status->{f}{STATUS}, '4 of 4 workers ready, generation 3',
    'STATUS=4 of 4 workers ready, generation 3');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');
ok(wait_for(sub { events($r) =~ /STOPPING$/ }, 2, 'STOPPING=1'),
    'STOPPING=1 last');
is(events($r), 'READY RELOADING READY RELOADING READY STOPPING',
    'the whole sequence, in order');
is(scalar(grep { $_->{pid} != $c->pid } messages($r)), 0,
    'every message from clusterd\'s pid');
# STOPPING=1 came last: all clusterd ever sent is in.
ok(!grep({ exists $_->{f}{WATCHDOG} } messages($r)),
    'no WATCHDOG=1 without WATCHDOG_USEC');
kill TERM => $r->pid;
wait_exit($r);

# 2. The watchdog: WATCHDOG_USEC=200000 -> WATCHDOG=1 about every 100 ms.
# WATCHDOG_PID must be clusterd's own pid: a shell sets it and execs.
$npath = "$TMPDIR/notify-wd.sock";
$r = receiver($npath);
$c = start_clusterd(binary => '/bin/sh',
    args => ['-c', 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', 'sh',
	$CLUSTERD, '-n', 2, '-l', '127.0.0.1:0', '--', $HELLO],
    env => { NOTIFY_SOCKET => $npath, WATCHDOG_USEC => 200000 });
my @wd;
ok(wait_for(sub {
	@wd = grep { exists $_->{f}{WATCHDOG} } messages($r);
	@wd >= 10;
}, 5, 'ten WATCHDOG=1'), 'WATCHDOG=1 keeps coming');
is(scalar(grep { $_->{f}{WATCHDOG} ne '1' || $_->{pid} != $c->pid } @wd), 0,
    'each one WATCHDOG=1, from clusterd');
my @gaps = map { ($wd[$_]{usec} - $wd[$_ - 1]{usec}) / 1000 } 1 .. $#wd;
my @sorted = sort { $a <=> $b } @gaps;
my $median = $sorted[@sorted / 2] // 0;
ok($median >= 70 && $median <= 130, 'about every 100 ms (WATCHDOG_USEC/2)')
    or diag("gaps (ms): @gaps");
ok(($sorted[-1] // 999) < 200 * timeout(1),
    'never a gap of WATCHDOG_USEC or more') or diag("gaps (ms): @gaps");
@hello = wait_workers($c->pid, 2, 5, 'hello');
for my $pid (@hello) {
	my $env = proc_env($pid) // {};
	ok(!exists $env->{WATCHDOG_USEC} && !exists $env->{WATCHDOG_PID},
	    "$pid: clusterd's WATCHDOG_USEC/WATCHDOG_PID not passed on");
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
like(events($r), qr/^READY.*STOPPING$/, 'READY=1 ... STOPPING=1 as well');
kill TERM => $r->pid;
wait_exit($r);

# WATCHDOG_PID of another process: the watchdog is not ours to feed.
$npath = "$TMPDIR/notify-wd2.sock";
$r = receiver($npath);
$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '--', $HELLO],
    env => { NOTIFY_SOCKET => $npath, WATCHDOG_USEC => 200000,
	WATCHDOG_PID => 1 });
ok(wait_msg($r, sub { exists $_[0]{f}{READY} }, 'READY=1'), 'READY=1');
# Three watchdog periods (a WATCHDOG=1 would be due every 100 ms), then
# the stop: once STOPPING=1 is in, all clusterd ever sent is.
my $until = now_usec() + 300_000;
wait_for(sub { now_usec() >= $until }, 2, '300 ms');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(wait_for(sub { events($r) =~ /STOPPING$/ }, 2, 'STOPPING=1'), 'WATCHDOG_PID=1: STOPPING=1 last');
ok(!grep({ exists $_->{f}{WATCHDOG} } messages($r)),
    'WATCHDOG_PID=1: no WATCHDOG=1');
kill TERM => $r->pid;
wait_exit($r);

# 3. An abstract NOTIFY_SOCKET ("@name", as systemd may give).
my $abs = "\@clusterd-test-$$-notify";
$r = receiver($abs);
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '--', $HELLO],
    env => { NOTIFY_SOCKET => $abs });
$ready = wait_msg($r, sub { exists $_[0]{f}{READY} }, 'READY=1');
is($ready->{f}{STATUS} // '', '2 of 2 workers ready, generation 1',
    'abstract socket: READY=1 with STATUS=2 of 2 workers ready, generation 1');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(wait_for(sub { events($r) eq 'READY STOPPING' }, 2, 'STOPPING=1'),
    'abstract socket: STOPPING=1') or diag(events($r));
kill TERM => $r->pid;
wait_exit($r);

# 4. A NOTIFY_SOCKET nobody listens on does not stop clusterd.
$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '--', $HELLO],
    env => { NOTIFY_SOCKET => "$TMPDIR/nobody-there.sock" });
is(scalar(wait_workers($c->pid, 1, 5, 'hello')), 1,
    'NOTIFY_SOCKET without a listener: the worker runs anyway');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 2. Type=notify-reload (systemd 253) wants RELOADING=1 ... READY=1 for
# every reload, also one that changes settings only or is refused; an
# upgrade in place is none: the service manager hears nothing of it.
{
	my $npath2 = "$TMPDIR/notify2.sock";
	my $r2 = receiver($npath2);
	my $ctl2 = "$TMPDIR/ctl2.sock";
	my $conf = write_file("$TMPDIR/reload.conf",
	    "[clusterd]\nworkers = 2\nstop_timeout = 8s\n[program]\ncommand = $HELLO\n");
	my $c2 = start_clusterd(args => ['-l', '127.0.0.1:0', '-s', $ctl2, '-c', $conf],
	    env => { NOTIFY_SOCKET => $npath2 });
	ok(wait_msg($r2, sub { exists $_[0]{f}{READY} }, 'READY=1'), 'reloads: READY=1');
	write_file($conf, "[clusterd]\nworkers = 2\nstop_timeout = 5s\n[program]\n"
	    . "command = $HELLO\n");
	my ($code, $out, $err) = clusterctl($ctl2, 'reload');
	is($code, 0, 'a reload of a setting only: exit 0') or diag($out, $err);
	ok(wait_for(sub { events($r2) eq 'READY RELOADING READY' }, 5, 'RELOADING, READY'),
	    'a reload of a setting only: RELOADING=1, then READY=1') or diag(events($r2));
	write_file($conf, "[clusterd]\nworkers = two\n");
	($code, $out, $err) = clusterctl($ctl2, 'reload');
	is($code, 1, 'a refused reload: exit 1');
	ok(wait_for(sub { events($r2) eq 'READY RELOADING READY RELOADING READY' }, 5,
	    'RELOADING, READY'), 'a refused reload: RELOADING=1, then READY=1 too')
	    or diag(events($r2));
	my $ALT = "$TOP_BUILDDIR/t/alt/clusterd";
	if (-x $ALT) {
		($code, $out, $err) = clusterctl($ctl2, 'upgrade', $ALT);
		is($code, 0, 'an upgrade: exit 0') or diag($out, $err);
		my $n = scalar(messages($r2));
		($code, $out, $err) = clusterctl($ctl2, 'status');
		is(events($r2), 'READY RELOADING READY RELOADING READY',
		    'an upgrade: no READY=1 or RELOADING=1');
		is(scalar(grep { $_->{pid} != $c2->pid } messages($r2)), 0,
		    'an upgrade: the messages still come from clusterd\'s pid');
	}
	kill TERM => $c2->pid;
	is(wait_exit($c2), 0, 'reloads: SIGTERM: exit 0');
}

# 5. A socket clusterd takes out of the fd store must stop listening at
# once, though the manager's copy stays open until it reads FDSTOREREMOVE=1
# (systemd may read it after clusterd binds the address again: that race
# failed a restart under systemd).  The receiver here keeps every stored
# descriptor for good, as the slowest manager would.
sub listens {	# whether the socket (a copy held here) is still listening
	my ($sock) = @_;
	my $v = getsockopt($sock, SOL_SOCKET, SO_ACCEPTCONN);
	return defined $v && unpack('i', $v) != 0;
}

sub refused {
	my ($port) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 2);
	return !$s && $!{ECONNREFUSED};
}

{
	my $npath3 = "$TMPDIR/notify3.sock";
	my $r3 = receiver($npath3, '--keep');
	my $ctl3 = "$TMPDIR/ctl3.sock";
	my ($p1, $p2) = (free_port(), free_port());
	my $conf = "$TMPDIR/store.conf";
	my $with_admin = sub {
		write_file($conf, "[clusterd]\nworkers = 1\nstop_timeout = 5s\n"
		    . "[socket:http]\nlisten = 127.0.0.1:$p1\n"
		    . ($_[0] ? "[socket:admin]\nlisten = 127.0.0.1:$p2\n" : '')
		    . "[program]\ncommand = $HELLO\n");
	};
	$with_admin->(1);
	my $c3 = start_clusterd(args => ['-s', $ctl3, '-c', $conf],
	    env => { NOTIFY_SOCKET => $npath3 });
	ok(wait_for(sub { $r3->log_text =~ /^fds 1 \d+ \d+ FDSTORE=1\|FDNAME=clusterd\/admin$/m },
	    5, 'admin stored'), 'fd store: admin is stored');
	like(http_get('127.0.0.1', $p2) // '', qr/^hello world/, 'fd store: admin answers');
	$with_admin->(0);
	my ($code, $out, $err) = clusterctl($ctl3, 'reload');
	is($code, 0, 'fd store: a reload without [socket:admin]') or diag($out, $err);
	ok($c3->wait_log(qr/^clusterd: closing 127\.0\.0\.1:$p2 \(admin\)$/m),
	    'fd store: admin closed');
	ok(wait_msg($r3, sub { ($_[0]{f}{FDSTOREREMOVE} // '') eq '1' &&
	    ($_[0]{f}{FDNAME} // '') eq 'clusterd/admin' }, 'FDSTOREREMOVE=1'),
	    'fd store: FDSTOREREMOVE=1 FDNAME=clusterd/admin sent');
	ok(refused($p2), 'fd store: admin refuses connections, though the manager '
	    . 'still holds its socket (none waits in a backlog nobody accepts from)');
	$with_admin->(1);
	($code, $out, $err) = clusterctl($ctl3, 'reload');
	is($code, 0, 'fd store: [socket:admin] back on the same port at once: bound again')
	    or diag($out, $err, $c3->log_text);
	like(http_get('127.0.0.1', $p2) // '', qr/^hello world/, 'fd store: admin answers again');
	stop_ok($c3, 'fd store, reload');

	# A stored socket that no longer fits the configuration (reuseport
	# now) is dropped at start while the manager holds it still.
	my $p3 = free_port();
	my $held = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $p3,
	    Listen => 16, ReuseAddr => 1) or die "bind: $!";
	fcntl($held, F_SETFD, fcntl($held, F_GETFD, 0) & ~FD_CLOEXEC) or die "fcntl: $!";
	write_file($conf, "[clusterd]\nworkers = 2\n[socket:http]\nlisten = 127.0.0.1:$p3\n"
	    . "reuseport = yes\n[program]\ncommand = $HELLO\n");
	my $c4 = start_clusterd(binary => $^X, args => ['-e', <<'END', fileno($held),
use POSIX ();
my $fd = shift;
POSIX::dup2($fd, 3) // die "dup2: $!";
POSIX::close($fd);
@ENV{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES)} = (1, $$, 'clusterd/http');
exec { $ARGV[0] } @ARGV or die "exec: $!";
END
	    $CLUSTERD, '-c', $conf], env => { NOTIFY_SOCKET => $npath3 });
	ok($c4->wait_log(qr/^clusterd: fd store: socket http \(fd 3\) is 127\.0\.0\.1:$p3 with reuseport off, the configuration says on: closing it and removing it from the store$/m),
	    'fd store: the stored socket without SO_REUSEPORT is dropped at start')
	    or diag($c4->log_text);
	ok(!listens($held), 'fd store: and no longer listens, in any process');
	ok($c4->wait_log(qr/^clusterd: 2 workers ready/m),
	    'fd store: the address is bound again, a socket per worker, at once')
	    or diag($c4->log_text);
	is_deeply(hello_ids($p3, 2), [0, 1], 'fd store: both workers answer');
	close($held);
	stop_ok($c4, 'fd store, at start');
}

done_testing();
