# What a worker gets (CONTRACT §2): fds, environment, process group, stdin,
# cwd, and {...} substitution in arguments and -e values.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $sock = "$TMPDIR/admin.sock";
my $bogus_notify = "$TMPDIR/bogus-notify";
my $c = start_clusterd(
    args => ['-n', 3, '-l', "http=127.0.0.1:$port", '-l', "admin=unix:$sock",
	'-e', 'EXTRA=x{worker}', '-d', $TMPDIR, '--', 'sleep', '1000'],
    # clusterd's own LISTEN_* are for another pid: it must neither adopt
    # them nor pass them on; nor its NOTIFY_SOCKET.
    env => { LISTEN_FDS => 2, LISTEN_PID => 1, LISTEN_FDNAMES => 'bog:us',
	LISTEN_PIDFDID => 12345, NOTIFY_SOCKET => $bogus_notify });

my @w = wait_workers($c->pid, 3, 5, 'sleep');
is(scalar(@w), 3, 'three sleep workers');
my $pidfs = have_pidfs();
my (%ids, %inode);
for my $pid (@w) {
	my $env = proc_env($pid);
	my $id = $env->{CLUSTERD_WORKER_ID} // 'none';
	$ids{$id} = $pid;
	is($env->{LISTEN_FDS}, 2, "$pid: LISTEN_FDS=2");
	is($env->{LISTEN_PID}, $pid, "$pid: LISTEN_PID is the worker's own pid");
	is($env->{LISTEN_FDNAMES}, 'http:admin', "$pid: LISTEN_FDNAMES");
	is($env->{CLUSTERD_WORKERS}, 3, "$pid: CLUSTERD_WORKERS=3");
	is($env->{CLUSTERD_GENERATION}, 1, "$pid: CLUSTERD_GENERATION=1");
	is($env->{EXTRA}, "x$id", "$pid: -e value with {worker}");
	isnt($env->{NOTIFY_SOCKET} // '', $bogus_notify,
	    "$pid: clusterd's own NOTIFY_SOCKET is not passed on");
	if ($pidfs) {
		is($env->{LISTEN_PIDFDID}, pidfd_inode($pid),
		    "$pid: LISTEN_PIDFDID is the inode of its pidfd");
	} else {
		ok(!defined $env->{LISTEN_PIDFDID} ||
		    $env->{LISTEN_PIDFDID} ne '12345',
		    "$pid: no inherited LISTEN_PIDFDID");
	}

	my $fds = proc_fds($pid);
	is_deeply([sort { $a <=> $b } keys %$fds], [0 .. 4],
	    "$pid: fds 0-4 open, nothing else")
	    or diag(explain($fds));
	is($fds->{0}, '/dev/null', "$pid: stdin is /dev/null");
	is($fds->{2}, $c->log_file, "$pid: stderr is clusterd's");
	like($fds->{3} // '', qr/^socket:\[\d+\]$/, "$pid: fd 3 is a socket");
	like($fds->{4} // '', qr/^socket:\[\d+\]$/, "$pid: fd 4 is a socket");
	$inode{3}{$fds->{3} // ''} = 1;
	$inode{4}{$fds->{4} // ''} = 1;

	my $st = proc_stat($pid);
	is($st->{pgid}, $pid, "$pid: own process group (pgid == pid)");
	is($st->{ppid}, $c->pid, "$pid: child of clusterd");
	is(readlink("/proc/$pid/cwd"), $TMPDIR, "$pid: -d sets the directory");
}
is_deeply([sort keys %ids], [0, 1, 2], 'CLUSTERD_WORKER_ID 0..2');
is(scalar(keys %{ $inode{3} }), 1, 'fd 3 is the same socket in every worker');
is(scalar(keys %{ $inode{4} }), 1, 'fd 4 is the same socket in every worker');

# fd 3 is the TCP listener on $port, fd 4 the UNIX one at $sock.
my ($ino3) = (keys %{ $inode{3} })[0] =~ /(\d+)/;
my ($ino4) = (keys %{ $inode{4} })[0] =~ /(\d+)/;
my $hexport = sprintf('%04X', $port);
my $tcp = (slurp('/proc/net/tcp') // '') . (slurp('/proc/net/tcp6') // '');
ok($ino3 && $tcp =~ /^\s*\d+: [0-9A-F]+:$hexport [0-9A-F]+:0000 0A .* $ino3 /m,
    "fd 3 listens on port $port");
ok($ino4 && (slurp('/proc/net/unix') // '') =~ /\b$ino4 \Q$sock\E$/m,
    "fd 4 is bound to $sock");
ok(!$c->log_matches(qr/bog|adopt/i), 'the foreign LISTEN_FDS were ignored');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# Substitution in the command's arguments and -e values; port 0 resolved.
my $sock2 = "$TMPDIR/admin2.sock";
$c = start_clusterd(args => ['-n', 2, '-l', 'http=127.0.0.1:0',
    '-l', "admin=unix:$sock2", '-e', 'W={worker}', '-e', 'P={port:http}',
    '-e', 'F={fd:admin}', '-e', 'N={workers}', '-e', 'G={generation}',
    '-e', 'L=a{{b}', '--', 'perl', '-e', 'sleep 1000', '--', '{worker}',
    '{fd:http}', '{fd:admin}', '{port:http}', '{workers}', '{generation}',
    'x{{y}', 'w{worker}.log']);
my ($p0) = $c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:(\d+) \(http\)$/m);
ok($p0 && $p0 > 0, 'port 0 printed as the real port');
@w = wait_workers($c->pid, 2, 5, 'perl');
is(scalar(@w), 2, 'two perl workers');
for my $pid (@w) {
	my $env = proc_env($pid);
	my $id = $env->{CLUSTERD_WORKER_ID};
	is_deeply([proc_cmdline($pid)],
	    ['perl', '-e', 'sleep 1000', '--', $id, 3, 4, $p0 // '?', 2, 1,
	    'x{y}', "w$id.log"],
	    "$pid: {worker} {fd:} {port:} {workers} {generation} {{ in args");
	is_deeply([@$env{qw(W P F N G L)}], [$id, $p0 // '?', 4, 2, 1, 'a{b}'],
	    "$pid: the same in -e values");
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# A socketless pool: no LISTEN_* at all, only fds 0-2.
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 1, 5, 'sleep');
my $env = proc_env($w[0] // 0) // {};
ok(!exists $env->{LISTEN_FDS}, '-l none: LISTEN_FDS not set');
ok(!exists $env->{LISTEN_PID}, '-l none: LISTEN_PID not set');
ok(!exists $env->{LISTEN_FDNAMES}, '-l none: LISTEN_FDNAMES not set');
is($env->{CLUSTERD_WORKER_ID}, 0, '-l none: CLUSTERD_WORKER_ID=0');
is_deeply([sort keys %{ proc_fds($w[0] // 0) // {} }], [0, 1, 2],
    '-l none: only fds 0-2');
ok(!$c->log_matches(qr/listening on/), '-l none: no socket');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# -u: workers run as another user (root only).
SKIP: {
	skip('-u needs root', 3) if $> != 0;
	my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
	skip('no user nobody', 3) unless defined $uid;
	$c = start_clusterd(args => ['-n', 1, '-l', "127.0.0.1:0", '-u',
	    'nobody', '--', 'sleep', '1000']);
	@w = wait_workers($c->pid, 1, 5, 'sleep');
	my $status = slurp("/proc/" . ($w[0] // 0) . "/status") // '';
	like($status, qr/^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$/m, '-u nobody: uid');
	like($status, qr/^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$/m, '-u nobody: gid');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

done_testing();
