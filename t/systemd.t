# The shipped units under a real systemd (issue 11): systemd as PID 1 of a
# container that systemd-nspawn boots from the host's own /usr (read-only)
# and a minimal /etc made here, with no debootstrap.  clusterd@web.socket
# starts clusterd@web.service on the first connection; Type=notify makes
# systemctl start return only once every worker is ready; systemctl reload
# waits for the rolling restart, and fails, changing nothing, when clusterd
# refuses the file or rolls the restart back; systemctl restart keeps the
# port answering; the watchdog replaces a clusterd that stopped pinging;
# stop leaves nothing running.  Per-worker cgroups (issue 13): with the
# units' Delegate=yes clusterd runs in <unit cgroup>/supervisor and each
# worker in <unit cgroup>/worker-ID.gGEN, so a daemon a worker leaves
# behind goes with it on a rolling restart and on stop; after a SIGKILL of
# clusterd systemd kills the rest of the subtree and restarts it; with
# Delegate=no clusterd says "cgroups: off" once and serves.  The fd store
# (issue 14), with no socket unit: clusterd stores the sockets it binds,
# so systemctl restart under load fails no request and the listening
# socket (its inode) stays; a reload that drops a socket takes it out of
# the store; a stored socket whose address changed is dropped with a log
# line; Restart= after a SIGKILL keeps the store, stop empties it; a
# socket unit's socket is never stored.  The journal's fields (issue 16):
# journalctl -u finds one worker's lines by CLUSTERD_WORKER_ID and filters
# them by PRIORITY.  Skips only
# where the container cannot boot; the container is halted (or killed)
# however the test ends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Clusterd;
use Nspawn;

my $NSPAWN = '/usr/bin/systemd-nspawn';
my $NSENTER = '/usr/bin/nsenter';
my $INIT = '/usr/lib/systemd/systemd';
plan(skip_all => 'booting a container needs root') if $> != 0;
plan(skip_all => "$NSPAWN is needed (Debian package systemd-container)")
    unless -x $NSPAWN;
plan(skip_all => "$INIT and $NSENTER are needed (systemd, util-linux)")
    unless -x $INIT && -x $NSENTER;
plan(skip_all => 'the container borrows a merged /usr (bin, sbin, lib are links into it)')
    unless grep({ (readlink("/$_") // '') eq "usr/$_" } qw(bin sbin lib)) == 3;

# setns(2) has no wrapper in perl; its number on the usual machines.
my %SETNS = (x86_64 => 308, aarch64 => 268, riscv64 => 268, i686 => 346,
    ppc64le => 350, s390x => 339);
my $ARCH = (POSIX::uname())[4];
plan(skip_all => "no setns(2) number known for $ARCH") unless $SETNS{$ARCH};

my $UNITS = "$TOP_BUILDDIR/etc";
my %unit = map { $_ => slurp("$UNITS/$_") } qw(clusterd@.service clusterd@.socket);
plan(skip_all => "the units are not built in $UNITS")
    if grep { !defined } values %unit;
my $HELLO_BIN = "$TOP_BUILDDIR/examples/hello";

# --- The container's root: /usr is the host's, read-only; /usr/local is
# ours (clusterd, clusterctl, hello, the configuration), so the units run
# with their default paths; /etc has just what systemd needs.
my $ROOT = "$TMPDIR/root";
my $LOCAL = "$TMPDIR/local";
mkdir($_, 0755) or die "$_: $!" for $ROOT, $LOCAL;
mkdir("$ROOT/$_", 0755) or die "$ROOT/$_: $!"
    for qw(usr etc var run tmp proc sys dev root etc/systemd etc/systemd/system
    etc/systemd/system/clusterd@web.service.d);
symlink("usr/$_", "$ROOT/$_") or die "$ROOT/$_: $!" for qw(bin sbin lib);
symlink('usr/lib64', "$ROOT/lib64") if -d '/usr/lib64';
mkdir("$LOCAL/$_", 0755) or die "$LOCAL/$_: $!" for qw(bin etc etc/clusterd);
write_file("$ROOT/etc/os-release", slurp('/usr/lib/os-release') // slurp('/etc/os-release')
    // "ID=debian\n");
write_file("$ROOT/etc/machine-id", '');	# systemd makes one up
write_file("$ROOT/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
    . "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
write_file("$ROOT/etc/group", "root:x:0:\nnogroup:x:65534:\n");
# cgorphan: sleep(1) by a name of its own, what a worker leaves behind.
# clusterd-alt: another build, to upgrade to (section 11).
for ([$CLUSTERD, 'clusterd'], [$CLUSTERCTL, 'clusterctl'], [$HELLO_BIN, 'hello'],
    ['/usr/bin/sleep', 'cgorphan'], ["$TOP_BUILDDIR/t/alt/clusterd", 'clusterd-alt']) {
	write_file("$LOCAL/bin/$_->[1]", slurp($_->[0]) // die("$_->[0]: $!\n"), 0755);
}

# The units as built, their configured directories moved to /usr/local
# (nothing changes in the default ./configure).
my ($bindir, $confdir) = $unit{'clusterd@.service'}
    =~ m{^ExecStart=(\S+)/clusterd -c (\S+)/%i\.conf }m
    or BAIL_OUT('clusterd@.service: no ExecStart=BINDIR/clusterd -c DIR/%i.conf');
for my $u (keys %unit) {
	(my $text = $unit{$u}) =~ s{\Q$bindir\E/}{/usr/local/bin/}g;
	$text =~ s{\Q$confdir\E/}{/usr/local/etc/clusterd/}g;
	write_file("$ROOT/etc/systemd/system/$u", $text);
}
# The only change to the units: a watchdog short enough to wait for, and
# long enough that a loaded machine running the sanitizer build (an
# upgrade's exec of it takes a while) does not miss a ping: with 2 s it
# did, now and then, and systemd restarted clusterd mid-test.
my $WD = timeout(5);
write_file("$ROOT/etc/systemd/system/clusterd\@web.service.d/test.conf",
    "[Service]\nWatchdogSec=${WD}s\n");

# The cluster: 2 hello workers that take a second to start (so that a start
# or a rolling restart that did not wait shows), ready = notify.
my $CONF = "$LOCAL/etc/clusterd/web.conf";
sub config {
	my ($env) = @_;
	write_file($CONF, <<"END");
[clusterd]
workers = 2
restart_batch = 2
[socket:http]
listen = 8080
[program]
command = /bin/sh -c "sleep 1; exec /usr/local/bin/hello"
ready = notify
ready_timeout = 10s
[env]
HELLO_NOTIFY = 1
$env
END
}
config('HELLO_STATUS = one');

# --- Boot, and halt at the end whatever happens.
my ($nspawn, $leader);
END {
	local $?;
	halt() if $nspawn;
}

sub halt {
	kill(TERM => $nspawn);	# systemd-nspawn halts the container
	my $gone = wait_for(sub { waitpid($nspawn, WNOHANG) != 0 }, 15,
	    'the container to halt');
	unless ($gone) {
		kill(KILL => $leader) if $leader;	# the whole pid namespace
		kill(KILL => $nspawn);
		waitpid($nspawn, 0);
	}
	$nspawn = undef;
	return $gone;
}

my $out = "$TMPDIR/nspawn.out";
$nspawn = fork() // die "fork: $!";
if ($nspawn == 0) {
	$ENV{SYSTEMD_NSPAWN_UNIFIED_HIERARCHY} = 1;
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', $out);
	open(STDERR, '>&', \*STDOUT);
	setpgrp(0, 0);	# not in the test's terminal group
	exec($NSPAWN, '-b', '-D', $ROOT, "--machine=clusterd-t-$$",
	    '--register=no', '--keep-unit', '--console=passive',
	    '--private-network', '--bind-ro=/usr', "--bind=$LOCAL:/usr/local")
	    or print STDERR "cannot run $NSPAWN: $!\n";
	POSIX::_exit(127);
}

# Commands in the container (all its namespaces), with a deadline; returns
# (exit code or undef on timeout, output).
sub ct {
	my (@cmd) = @_;
	my $log = "$TMPDIR/ct.out";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $log);
		open(STDERR, '>&', \*STDOUT);
		exec($NSENTER, '-t', $leader, '-a', '--', @cmd)
		    or print STDERR "cannot run $NSENTER: $!\n";
		POSIX::_exit(127);
	}
	my $st;
	my $done = wait_for(sub {
		return 0 if waitpid($pid, WNOHANG) != $pid;
		$st = $?;
		return 1;
	}, 30, "@cmd");
	unless ($done) {
		kill(KILL => $pid);
		waitpid($pid, 0);
		return (undef, slurp($log) // '');
	}
	return (WIFEXITED($st) ? WEXITSTATUS($st) : 128 + WTERMSIG($st), slurp($log) // '');
}

sub systemctl { return ct('/usr/bin/systemctl', @_) }

sub show {
	my ($u, @p) = @_;
	my (undef, $text) = systemctl('show', $u, '-p', join(',', @p));
	return { $text =~ /^(\w+)=(.*)$/mg };
}

sub status_json {
	require JSON::PP;
	my ($code, $text) = ct('/usr/local/bin/clusterctl', '-s',
	    '/run/clusterd/clusterd-web.sock', 'status', '--json');
	return eval { JSON::PP::decode_json($text) } // {};
}

# The workers that serve (old ones may still be finishing their requests
# after a rolling restart: state stopping).
sub serving {
	my ($j) = @_;
	return grep { $_->{state} ne 'stopping' } @{ $j->{workers} // [] };
}

# Their pids, sorted.
sub serving_pids { return [sort { $a <=> $b } map { $_->{pid} } serving($_[0])] }

sub journal {
	my (undef, $text) = ct('/usr/bin/journalctl', '-u', 'clusterd@web.service',
	    '--no-pager', '-o', 'cat');
	return $text;
}

sub ct_procs { return nspawn_procs($leader, $_[0]) }

# The container's PID 1 is systemd-nspawn's child named systemd; booted
# once systemctl there says running (or degraded: some unit of the host's
# /usr failed, which is not ours to judge).
my ($booted, $exited) = nspawn_boot(\$nspawn, \$leader,
    sub { (ct('/usr/bin/systemctl', 'is-system-running'))[1] }, 30);
unless ($booted) {
	my @lines = grep { /\S/ } split(/\n/, slurp($out) // '');
	diag($_) for @lines;
	plan(skip_all => 'cannot boot a container here: '
	    . ($exited ? 'systemd-nspawn exited' : 'systemd not running within '
	    . timeout(30) . 's') . (@lines ? ": $lines[-1]" : ''));
}
pass("systemd booted as PID 1 of the container (host pid $leader)");

# From here on this test lives in the container's network (its port 8080).
open(my $netns, '<', "/proc/$leader/ns/net") or BAIL_OUT("/proc/$leader/ns/net: $!");
syscall($SETNS{$ARCH}, fileno($netns), 0x40000000) == 0	# CLONE_NEWNET
    or BAIL_OUT("setns: $!");

# --- 1. Socket activation.
my ($code, $text) = systemctl('start', 'clusterd@web.socket');
is($code, 0, 'systemctl start clusterd@web.socket') or diag($text);
is(show('clusterd@web.service', 'ActiveState')->{ActiveState}, 'inactive',
    'the service waits for a connection');
my $answer = http_get('127.0.0.1', 8080, '/', 10) // '';
like($answer, qr/^hello world from worker [01] \(pid \d+\)\n\z/,
    'the first connection starts clusterd@web.service, and a worker answers it');
# The first worker can answer before the second is ready and clusterd
# sends READY=1 (the service is "activating" until then): wait for it.
my $s;
wait_for(sub {
	$s = show('clusterd@web.service', qw(ActiveState MainPID StatusText NRestarts));
	return $s->{ActiveState} ne 'activating';
}, 15, 'the service to leave "activating"');
is($s->{ActiveState}, 'active', 'the service is active');
is($s->{StatusText}, '2 of 2 workers ready, generation 1', 'STATUS= from clusterd');
like(journal(), qr/adopted \[::\]:8080 \(http\) from the service manager/,
    'clusterd adopted the socket systemd passed');

# --- 2. Type=notify: systemctl start returns once every worker is ready.
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'systemctl stop clusterd@web.service') or diag($text);
my $t0 = time();
($code, $text) = systemctl('start', 'clusterd@web.service');
my $took = time() - $t0;
my $j = status_json();
is($code, 0, 'systemctl start clusterd@web.service') or diag($text);
ok($took >= 1, sprintf('it took %.2fs: it waited for the workers (1s to start)', $took));
is_deeply([$j->{workers_ready}, $j->{workers_wanted}], [2, 2],
    'when it returns, 2 of 2 workers are ready (READY=1 came after them)');

# --- 3. systemctl reload: waits for the rolling restart, reports failure.
config('HELLO_STATUS = two');
$t0 = time();
($code, $text) = systemctl('reload', 'clusterd@web.service');
$took = time() - $t0;
$j = status_json();
is($code, 0, 'systemctl reload with a new [env]: exit 0') or diag($text, journal());
ok($took >= 1, sprintf('it took %.2fs: it waited for the new workers', $took));
is_deeply([map { "$_->{generation} $_->{state} " . ($_->{status} // '') }
    serving($j)], ['2 ready two', '2 ready two'],
    'when it returns, both workers are of generation 2, ready, with the new [env]');
my $gen2 = serving_pids($j);

write_file($CONF, (slurp($CONF) // '') =~ s/^\[clusterd\]\n/[clusterd]\nfrobnicate = 1\n/mr);
($code, $text) = systemctl('reload', 'clusterd@web.service');
ok($code, "a file with an error: systemctl reload fails (exit $code)");
like(journal(), qr/web\.conf:\d+: unknown key "frobnicate"/,
    'the journal names the file, the line and the error');
$j = status_json();
is_deeply(serving_pids($j), $gen2, 'nothing changed: the same workers');
is(show('clusterd@web.service', 'ActiveState')->{ActiveState}, 'active',
    'and the service is still active');

config("HELLO_STATUS = three\nHELLO_FAIL = 1");
($code, $text) = systemctl('reload', 'clusterd@web.service');
ok($code, "new workers that die: the restart is rolled back and systemctl reload fails (exit $code)");
like(journal(), qr/^clusterd: rolled back to generation \d+$/m,
    'the journal says it was rolled back');
$j = status_json();
is_deeply(serving_pids($j), $gen2, 'the same workers go on');
like(http_get('127.0.0.1', 8080) // '', qr/^hello world/, 'and answer');
config('HELLO_STATUS = two');

# --- 4. systemctl restart: the port (held by systemd) keeps answering.
my $main = show('clusterd@web.service', 'MainPID')->{MainPID};
my $load = start_load(8080, timeout => 10);
wait_load($load, 10);
($code, $text) = systemctl('restart', 'clusterd@web.service');
is($code, 0, 'systemctl restart clusterd@web.service') or diag($text);
my $main2 = show('clusterd@web.service', 'MainPID')->{MainPID};
isnt($main2, $main, "a new clusterd ($main -> $main2)");
wait_load($load, 10);
my $r = stop_load($load);
ok($r->{ok} >= 20, "$r->{ok} requests answered through the restart");
is($r->{failed}, 0, 'none failed: connections waited in the socket systemd holds')
    or diag(join("\n", @{ $r->{errors} }));

# --- 5. The watchdog: clusterd pings it; one that stops is replaced.
# systemd notes the time of each ping.
my %pings;
ok(wait_for(sub {
	my $t = show('clusterd@web.service', 'WatchdogTimestampMonotonic')
	    ->{WatchdogTimestampMonotonic};
	$pings{$t}++ if $t;
	return keys(%pings) >= 3;
}, $WD * 3, 'three watchdog pings'), 'systemd sees clusterd\'s watchdog pings');
$s = show('clusterd@web.service', qw(MainPID NRestarts));
is_deeply([$s->{MainPID}, $s->{NRestarts}], [$main2, 0],
    "and has not restarted it (WatchdogSec=${WD}s)");
($code, $text) = systemctl('kill', '--kill-who=main', '-s', 'STOP', 'clusterd@web.service');
is($code, 0, 'SIGSTOP to clusterd') or diag($text);
my $main3;
ok(wait_for(sub {
	$s = show('clusterd@web.service', qw(MainPID NRestarts ActiveState));
	$main3 = $s->{MainPID};
	return $s->{NRestarts} >= 1 && $s->{ActiveState} eq 'active' && $main3 != $main2;
}, $WD + 15, 'the watchdog to restart clusterd'),
    "a stopped clusterd misses its pings, systemd aborts it and starts another ($main3)");
like(journal(), qr/Watchdog timeout/, 'the journal says why');
like(http_get('127.0.0.1', 8080) // '', qr/^hello world/, 'the new one answers');

# --- 6. Stop: nothing left running.
($code, $text) = systemctl('stop', 'clusterd@web.service', 'clusterd@web.socket');
is($code, 0, 'systemctl stop clusterd@web.service clusterd@web.socket') or diag($text);
$s = show('clusterd@web.service', qw(ActiveState Result ExecMainStatus));
is_deeply([@$s{qw(ActiveState Result ExecMainStatus)}], ['inactive', 'success', 0],
    'inactive, result success: clusterd exited 0');
is_deeply([ct_procs(qr/^(clusterd|hello|sh)$/)], [],
    'no clusterd, worker or shell left in the container');
ok(!defined http_get('127.0.0.1', 8080), 'and nothing listens on 8080');

# --- 7. Per-worker cgroups (issue 13).  The units say Delegate=yes: the
# unit's cgroup is clusterd's; clusterd moves itself into its leaf
# "supervisor" and starts each worker in a cgroup of its own.  Each worker
# here leaves a daemon behind (setsid -f: a session of its own, its parent
# gone), which nothing but its cgroup ties to the worker: a restart, a stop
# and a SIGKILL of clusterd must end it all the same.

# A process's cgroup v2 path, as the container sees it.
sub cgroup_of {
	my ($pid) = @_;
	my ($code, $text) = ct('/bin/cat', "/proc/$pid/cgroup");
	return ($code // 1) == 0 && $text =~ /^0::(\S+)$/m ? $1 : "none ($text)";
}

# The container's pids of the processes named $name.
sub ct_pids {
	my ($name) = @_;
	my (undef, $text) = ct('/usr/bin/pgrep', '-x', $name);
	return sort { $a <=> $b } $text =~ /^(\d+)$/mg;
}

# Which of these container pids still run.
sub ct_alive {
	my (@pids) = @_;
	return () unless @pids;
	my (undef, $text) = ct('/bin/sh', '-c',
	    'for p; do [ -d /proc/$p ] && echo $p; done; true', 'sh', @pids);
	return $text =~ /^(\d+)$/mg;
}

sub ct_stat {
	my ($pid) = @_;
	my (undef, $text) = ct('/bin/cat', "/proc/$pid/stat");
	my ($comm, $rest) = $text =~ /^\d+ \((.*)\) (.*)$/s or return {};
	my @f = split(' ', $rest);
	return { comm => $comm, ppid => $f[1], sid => $f[3] };
}

# The cgroups in a cgroup of the container.
sub cg_dirs {
	my ($cg) = @_;
	my (undef, $text) = ct('/usr/bin/find', "/sys/fs/cgroup$cg", '-mindepth', '1',
	    '-maxdepth', '1', '-type', 'd', '-printf', '%f\n');
	return sort split(/\n/, $text);
}

# What the journal has of one run of the service, clusterd's lines and
# systemd's about it.
sub journal_of {
	my ($invocation) = @_;
	my (undef, $text) = ct('/usr/bin/journalctl', '--no-pager', '-o', 'cat',
	    "_SYSTEMD_INVOCATION_ID=$invocation", '+', "INVOCATION_ID=$invocation");
	return $text;
}

write_file($CONF, <<'END');
[clusterd]
workers = 2
restart_batch = 2
[socket:http]
listen = 8080
[program]
command = /bin/sh -c "/usr/bin/setsid -f /usr/local/bin/cgorphan 1000; exec /usr/local/bin/hello"
ready = notify
[env]
HELLO_NOTIFY = 1
END
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'systemctl start clusterd@web.service, workers that leave a daemon behind')
    or diag($text);
$s = show('clusterd@web.service', qw(ControlGroup Delegate MainPID InvocationID));
my $CG = $s->{ControlGroup} // '';
is($s->{Delegate}, 'yes', "Delegate=yes: systemd hands the unit's cgroup $CG over");
SKIP: {
	skip("$PYTHON3 reads the xattrs", 1) unless -x $PYTHON3;
	my (undef, $x) = ct($PYTHON3, '-c', <<'END', "/sys/fs/cgroup$CG");
import os, sys
for n in ("trusted.delegate", "user.delegate"):
    try:
        print(n + "=" + os.getxattr(sys.argv[1], n).decode())
    except OSError as e:
        print(n + ": " + e.strerror)
END
	like($x, qr/^(?:trusted|user)\.delegate=1$/m,
	    'and marks it with the delegate xattr clusterd looks for') or diag($x);
	note($x);
}
my $J = '';
ok(wait_for(sub {
	$J = journal_of($s->{InvocationID});
	return $J =~ m{^clusterd: cgroups: workers in /sys/fs/cgroup\Q$CG\E, }m;
}, 10, 'the cgroups line in the journal'),
    "clusterd logs that cgroups are on, based on the unit's cgroup") or diag($J);
unlike($J, qr/cgroups: off/, 'and no "cgroups: off"');
is(cgroup_of($s->{MainPID}), "$CG/supervisor", 'clusterd runs in <unit cgroup>/supervisor');
$j = status_json();
my @w = sort { $a->{id} <=> $b->{id} } serving($j);
is_deeply([map { cgroup_of($_->{pid}) } @w], ["$CG/worker-0.g1", "$CG/worker-1.g1"],
    'worker N in <unit cgroup>/worker-N.g1');
my @orph;
wait_for(sub { @orph = ct_pids('cgorphan'); return @orph == 2 }, 10, 'two daemons');
is(scalar(@orph), 2, 'each worker left a daemon behind');
is_deeply([map { my $st = ct_stat($_); $st->{ppid} == 1 && $st->{sid} == $_ ? 1 : 0 } @orph],
    [1, 1], 'daemonized: its parent is PID 1, its session its own');
is_deeply([sort map { cgroup_of($_) } @orph], ["$CG/worker-0.g1", "$CG/worker-1.g1"],
    "and it is in its worker's cgroup");

# A rolling restart: each old worker goes with its daemon.
($code, $text) = ct('/usr/local/bin/clusterctl', '-s', '/run/clusterd/clusterd-web.sock',
    'restart');
is($code, 0, 'clusterctl restart') or diag($text);
# (The restart is done once the new workers serve; the old ones may still
# be stopping.)
my (@left, @dirs);
wait_for(sub {
	@left = ct_alive(@orph);
	@dirs = cg_dirs($CG);
	return !@left && "@dirs" eq 'supervisor worker-0.g2 worker-1.g2';
}, 10, "the old workers' daemons and cgroups to go");
is_deeply(\@left, [], "the old workers' daemons are gone with them");
is(scalar(my @orph2 = ct_pids('cgorphan')), 2, 'the new workers have theirs');
is_deeply(\@dirs, [qw(supervisor worker-0.g2 worker-1.g2)],
    "the old workers' cgroups are removed: supervisor and generation 2 are left");

# systemctl stop: clusterd ends every worker's cgroup itself, systemd has
# nothing left to kill.
my $inv = $s->{InvocationID};
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'systemctl stop clusterd@web.service') or diag($text);
$s = show('clusterd@web.service', qw(ActiveState Result));
is_deeply([@$s{qw(ActiveState Result)}], ['inactive', 'success'], 'inactive, result success');
is_deeply([ct_procs(qr/^(clusterd|hello|cgorphan|sh|setsid)$/)], [],
    'no clusterd, worker or daemon left');
$J = journal_of($inv);
unlike($J, qr/Killing process/, 'clusterd ended them all: systemd killed none') or diag($J);
is((ct('/usr/bin/test', '-e', "/sys/fs/cgroup$CG"))[0], 1,
    "systemd removed the unit's cgroup, the delegated subtree with it");

# --- 8. SIGKILL of clusterd: Restart=on-failure starts another, and no
# process of the old workers survives.
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'systemctl start clusterd@web.service') or diag($text);
$s = show('clusterd@web.service', qw(MainPID NRestarts InvocationID));
$j = status_json();
my @old = ((map { $_->{pid} } serving($j)), ct_pids('cgorphan'));
is(scalar(@old), 4, '2 workers and their 2 daemons run') or diag("@old");
($code, $text) = systemctl('kill', '--kill-who=main', '-s', 'KILL', 'clusterd@web.service');
is($code, 0, "SIGKILL to clusterd (pid $s->{MainPID})") or diag($text);
my $s2;
ok(wait_for(sub {
	$s2 = show('clusterd@web.service', qw(MainPID NRestarts ActiveState InvocationID));
	return $s2->{NRestarts} > $s->{NRestarts} && $s2->{ActiveState} eq 'active';
}, 20, 'systemd to restart clusterd'), "systemd restarts it (pid $s2->{MainPID})");
is_deeply([ct_alive(@old)], [], 'none of the old workers and daemons is left');
$J = journal_of($s->{InvocationID});
like($J, qr{^clusterd\@web\.service: Main process exited, code=killed, status=9/KILL$}m,
    'the journal: the main process was killed');
my %killed = $J =~ /^clusterd\@web\.service: Killing process (\d+) \((\S+)\) with signal SIGKILL\.$/mg;
note("systemd killed: @{[map { \"$_ ($killed{$_})\" } sort keys %killed]}");
# The workers end on their parent-death signal; systemd may still find one
# exiting.  The daemons only systemd ends: it kills in the whole subtree.
is_deeply([sort grep { $killed{$_} ne 'hello' } keys %killed], [sort @old[2, 3]],
    "systemd's SIGKILL (KillMode=mixed) ended the daemons in the workers' cgroups")
    or diag($J);
$J = journal_of($s2->{InvocationID});
unlike($J, qr/cgroups: killed/, 'the new clusterd found nothing left to kill') or diag($J);
is(cgroup_of($s2->{MainPID}), "$CG/supervisor", 'the new clusterd is in supervisor');
$j = status_json();
is_deeply([map { cgroup_of($_->{pid}) } sort { $a->{id} <=> $b->{id} } serving($j)],
    ["$CG/worker-0.g1", "$CG/worker-1.g1"], 'its workers in worker-0.g1 and worker-1.g1');
like(http_get('127.0.0.1', 8080) // '', qr/^hello world/, 'and they answer');

# --- 9. Without Delegate=yes clusterd leaves systemd's cgroup alone: one
# warning, and it serves as before.
write_file("$ROOT/etc/systemd/system/clusterd\@web.service.d/nodelegate.conf",
    "[Service]\nDelegate=no\n");
($code, $text) = systemctl('daemon-reload');
is($code, 0, 'a drop-in with Delegate=no') or diag($text);
($code, $text) = systemctl('restart', 'clusterd@web.service');
is($code, 0, 'systemctl restart clusterd@web.service') or diag($text);
$s = show('clusterd@web.service', qw(Delegate MainPID InvocationID));
is($s->{Delegate}, 'no', 'Delegate=no');
ok(wait_for(sub {
	$J = journal_of($s->{InvocationID});
	return $J =~ /^clusterd: \d+ workers? ready/m;
}, 10, 'the workers to be ready'), 'the workers are ready') or diag($J);
my @off = $J =~ /^(clusterd: cgroups: .*)$/mg;
is(scalar(@off), 1, 'clusterd logs one line about cgroups') or diag($J);
like($off[0] // '', qr/^clusterd: cgroups: off: .*Delegate=yes/,
    'cgroups: off, naming Delegate=yes');
is(cgroup_of($s->{MainPID}), $CG, "clusterd stays in the unit's cgroup");
is((status_json()->{cgroups} // {})->{mode}, 'off', 'status says cgroups off');
like(http_get('127.0.0.1', 8080) // '', qr/^hello world/, 'and the workers answer');
unlink("$ROOT/etc/systemd/system/clusterd\@web.service.d/nodelegate.conf");
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'systemctl stop clusterd@web.service') or diag($text);
systemctl('daemon-reload');

# --- 10. The fd store, with no socket unit: clusterd keeps each socket it
# binds in systemd's fd store, so systemctl restart binds nothing and
# refuses no connection; a reload that drops a socket takes it out.
sub fdstore_conf {
	my ($http, $admin) = @_;
	write_file($CONF, "[clusterd]\nworkers = 2\nrestart_batch = 2\n"
	    . "[socket:http]\nlisten = $http\n"
	    . ($admin ? "[socket:admin]\nlisten = $admin\n" : '')
	    . "[program]\ncommand = /usr/local/bin/hello\nready = notify\n"
	    . "[env]\nHELLO_NOTIFY = 1\n");
}

# The container's listening TCP sockets on $port: their inodes.
sub listening { return [sort keys %{ listen_sockets($_[0]) }] }

# The service once active again after a restart of any kind, with a new
# main pid (the journal of the new run has its "workers ready" line).
sub wait_new_run {
	my ($old, $why) = @_;
	my $st;
	wait_for(sub {
		$st = show('clusterd@web.service', qw(MainPID ActiveState InvocationID
		    NFileDescriptorStore));
		return $st->{ActiveState} eq 'active' && $st->{MainPID} != $old &&
		    journal_of($st->{InvocationID}) =~ /^clusterd: \d+ workers? ready/m;
	}, 20, $why);
	return $st;
}

# Many restarts in a row: each clears systemd's start rate limit first (5
# starts in 10s, StartLimitBurst=), which is not what is tested here.
sub restart {
	systemctl('reset-failed', 'clusterd@web.service');
	return systemctl('restart', 'clusterd@web.service');
}

is_deeply(show('clusterd@web.socket', 'ActiveState'), { ActiveState => 'inactive' },
    'no socket unit from here on');
fdstore_conf('8080', '127.0.0.1:8081');
systemctl('reset-failed', 'clusterd@web.service');
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'systemctl start clusterd@web.service, [socket:http] and [socket:admin]')
    or diag($text);
$s = show('clusterd@web.service', qw(MainPID InvocationID NFileDescriptorStore
    FileDescriptorStoreMax));
is($s->{FileDescriptorStoreMax}, 64, 'the unit says FileDescriptorStoreMax=64');
$J = journal_of($s->{InvocationID});
like($J, qr/^clusterd: listening on \[::\]:8080 \(http\)$/m, 'clusterd bound http itself')
    or diag($J);
is($s->{NFileDescriptorStore}, 2, 'and stored both sockets in the fd store');
unlike($J, qr/Cannot store|fd store/i, 'no complaint from systemd or clusterd') or diag($J);
my $ino = listening(8080);
is(scalar(@$ino), 1, "one socket listens on 8080 (inode @$ino)");

$load = start_load(8080, timeout => 10);
wait_load($load, 10);
($code, $text) = restart();
is($code, 0, 'systemctl restart clusterd@web.service under load') or diag($text);
$s2 = show('clusterd@web.service', qw(MainPID InvocationID NFileDescriptorStore));
isnt($s2->{MainPID}, $s->{MainPID}, "a new clusterd ($s->{MainPID} -> $s2->{MainPID})");
wait_load($load, 10);
$r = stop_load($load);
ok($r->{ok} >= 20, "$r->{ok} requests answered through the restart");
is($r->{failed}, 0, 'none failed: connections waited in the stored socket')
    or diag(join("\n", @{ $r->{errors} }));
is_deeply(listening(8080), $ino, 'the very same socket listens on 8080 (same inode)');
$J = journal_of($s2->{InvocationID});
like($J, qr/^clusterd: adopted the stored socket \[::\]:8080 \(http\)$/m,
    'the new clusterd says it adopted the stored socket') or diag($J);
like($J, qr/^clusterd: adopted the stored socket 127\.0\.0\.1:8081 \(admin\)$/m,
    'admin as well');
unlike($J, qr/listening on|not used; closing/, 'and bound nothing, closed nothing');
is($s2->{NFileDescriptorStore}, 2, 'the store still has the two, once each');
like(http_get('127.0.0.1', 8081) // '', qr/^hello world/, 'admin answers');

# A reload without [socket:admin]: closed, and out of the store.
fdstore_conf('8080');
($code, $text) = systemctl('reload', 'clusterd@web.service');
is($code, 0, 'systemctl reload without [socket:admin]') or diag($text);
ok(wait_for(sub {
	show('clusterd@web.service', 'NFileDescriptorStore')->{NFileDescriptorStore} == 1
}, 10, 'the store to have one socket'), 'the store is down to http');
like(journal_of($s2->{InvocationID}), qr/^clusterd: closing 127\.0\.0\.1:8081 \(admin\)$/m,
    'clusterd closed admin');
is_deeply(listening(8081), [], 'nothing listens on 8081');
($code, $text) = restart();
is($code, 0, 'systemctl restart') or diag($text);
my $s3 = show('clusterd@web.service', qw(MainPID InvocationID NFileDescriptorStore));
$J = journal_of($s3->{InvocationID});
unlike($J, qr/admin|8081/, 'after a restart, admin is nowhere: not passed back, not bound')
    or diag($J);
is_deeply(listening(8081), [], 'and nothing listens on 8081');
is_deeply(listening(8080), $ino, 'http is still the same socket');

# A restart with http moved to another port: the stored socket is closed
# and taken out of the store, the new address bound and stored.
fdstore_conf('8082');
($code, $text) = restart();
is($code, 0, 'systemctl restart with http on 8082 now') or diag($text);
my $s4 = show('clusterd@web.service', qw(MainPID InvocationID NFileDescriptorStore));
$J = journal_of($s4->{InvocationID});
like($J, qr{^clusterd: fd store: socket http \(fd \d+\) is \[::\]:8080, the configuration says 8082: closing it and removing it from the store$}m,
    'clusterd says why it drops the stored socket') or diag($J);
like($J, qr/^clusterd: listening on \[::\]:8082 \(http\)$/m, 'and binds the new address');
is_deeply(listening(8080), [], 'nothing listens on 8080 any more');
like(http_get('127.0.0.1', 8082) // '', qr/^hello world/, '8082 answers');
is($s4->{NFileDescriptorStore}, 1, 'the store has the new socket only');
my $ino2 = listening(8082);

# Restart= after a crash keeps the store as well.
($code, $text) = systemctl('kill', '--kill-who=main', '-s', 'KILL', 'clusterd@web.service');
is($code, 0, 'SIGKILL to clusterd') or diag($text);
my $s5 = wait_new_run($s4->{MainPID}, 'Restart=on-failure to start clusterd again');
like(journal_of($s5->{InvocationID} // ''),
    qr/^clusterd: adopted the stored socket \[::\]:8082 \(http\)$/m,
    'Restart=on-failure: the next clusterd adopts the stored socket too');
is_deeply(listening(8082), $ino2, 'the same socket');

# Reuseport mode: slot 0's socket is stored (the listener's own); the
# other slots' join its group again after the restart.
write_file($CONF, (slurp($CONF) // '') =~ s/^(listen = 8082)$/$1\nreuseport = yes/mr);
($code, $text) = restart();
is($code, 0, 'reuseport = yes: systemctl restart') or diag($text);
$s = show('clusterd@web.service', qw(MainPID InvocationID));
$J = journal_of($s->{InvocationID});
like($J, qr/^clusterd: fd store: socket http \(fd \d+\) is \[::\]:8082 with reuseport off, the configuration says on: closing it and removing it from the store$/m,
    'the stored socket without SO_REUSEPORT is dropped') or diag($J);
my $rp = listening(8082);
is(scalar(@$rp), 2, 'a socket per worker listens on 8082');
# (No load here: a connection already queued on slot 1's socket when the
# old clusterd closes it is reset; see clusterd(8), UNDER SYSTEMD.)
($code, $text) = restart();
is($code, 0, 'reuseport: systemctl restart') or diag($text);
$s2 = show('clusterd@web.service', qw(MainPID InvocationID NFileDescriptorStore));
$J = journal_of($s2->{InvocationID});
like($J, qr/^clusterd: adopted the stored socket \[::\]:8082 \(http\), a socket per worker \(reuseport\)$/m,
    'the new clusterd adopted slot 0\'s socket') or diag($J);
my $rp2 = listening(8082);
is(scalar(@$rp2), 2, 'a socket per worker again');
is(scalar(grep { my $i = $_; grep { $_ eq $i } @$rp } @$rp2), 1,
    'one of them is the stored one');
is($s2->{NFileDescriptorStore}, 1, 'the store has one socket');
is_deeply(hello_ids(8082, 2), [0, 1], 'both workers get connections');

# stop, then start: systemd empties the store when the service stops.
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'systemctl stop') or diag($text);
is(show('clusterd@web.service', 'NFileDescriptorStore')->{NFileDescriptorStore}, 0,
    'systemd emptied the store');
is_deeply(listening(8082), [], 'nothing listens on 8082');
systemctl('reset-failed', 'clusterd@web.service');
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'systemctl start') or diag($text);
$s = show('clusterd@web.service', qw(InvocationID NFileDescriptorStore));
like(journal_of($s->{InvocationID}), qr/^clusterd: listening on \[::\]:8082 \(http\)/m,
    'a start after a stop binds afresh');
is($s->{NFileDescriptorStore}, 1, 'and stores it');

# With the socket unit, its socket is not stored twice.
($code, $text) = systemctl('stop', 'clusterd@web.service');
fdstore_conf('8080');
($code, $text) = systemctl('start', 'clusterd@web.socket', 'clusterd@web.service');
is($code, 0, 'systemctl start clusterd@web.socket clusterd@web.service') or diag($text);
$s = show('clusterd@web.service', qw(InvocationID NFileDescriptorStore));
like(journal_of($s->{InvocationID}), qr/adopted \[::\]:8080 \(http\) from the service manager/,
    'clusterd adopted the socket unit\'s socket');
is($s->{NFileDescriptorStore}, 0, 'and stored nothing: the socket unit holds it');
($code, $text) = systemctl('stop', 'clusterd@web.service', 'clusterd@web.socket');
is($code, 0, 'systemctl stop clusterd@web.service clusterd@web.socket') or diag($text);

# --- 11. Upgrading clusterd in place under systemd (issue 14): the same
# main pid, so systemd sees no restart, the service stays active, the fd
# store keeps what it had, and the watchdog goes on being fed; under load,
# no request fails.
fdstore_conf('8080');
systemctl('reset-failed', 'clusterd@web.service');
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'upgrade: systemctl start clusterd@web.service') or diag($text);
my $u0 = show('clusterd@web.service', qw(MainPID NRestarts InvocationID NFileDescriptorStore));
my $pids0 = serving_pids(status_json());
my $uload = start_load(8080, max => 60);
ok(wait_load($uload, 20), 'upgrade: the load runs');
($code, $text) = ct('/usr/local/bin/clusterctl', '-s', '/run/clusterd/clusterd-web.sock',
    'upgrade', '/usr/local/bin/clusterd-alt');
is($code, 0, 'upgrade: clusterctl upgrade /usr/local/bin/clusterd-alt') or diag($text);
like($text, qr/^upgraded from \S+ \(\w+\) to \S+-alt \(\w+\) in \d+ ms$/m,
    'upgrade: upgraded from A to A-alt');
# SIGUSR1 through systemd: back to the binary it was started as.
($code, $text) = systemctl('kill', '--kill-who=main', '-s', 'USR1', 'clusterd@web.service');
is($code, 0, 'upgrade: systemctl kill -s USR1 --kill-who=main') or diag($text);
ok(wait_for(sub { journal_of($u0->{InvocationID}) =~ /^clusterd: upgraded from \S+-alt \(\w+\) to /m },
    20, 'the second upgrade'), 'upgrade: SIGUSR1 upgraded it back, the journal says');
ok(wait_load($uload, 20), 'upgrade: the load goes on');
my $ur = stop_load($uload);
is($ur->{failed}, 0, "upgrade: no failed request out of $ur->{ok}")
    or diag(join("\n", @{ $ur->{errors} }));
my $u1 = show('clusterd@web.service', qw(MainPID NRestarts InvocationID NFileDescriptorStore
    ActiveState));
is($u1->{MainPID}, $u0->{MainPID}, "upgrade: the same main pid ($u0->{MainPID})");
is($u1->{InvocationID}, $u0->{InvocationID}, 'upgrade: the same invocation: no restart');
is($u1->{NRestarts}, $u0->{NRestarts}, 'upgrade: NRestarts unchanged');
is($u1->{ActiveState}, 'active', 'upgrade: still active');
is($u1->{NFileDescriptorStore}, $u0->{NFileDescriptorStore},
    "upgrade: the fd store holds what it did ($u0->{NFileDescriptorStore})");
is_deeply(serving_pids(status_json()), $pids0, 'upgrade: the same workers');
# The watchdog: systemd hears a ping from the new image (its time moves on).
my $wd0 = show('clusterd@web.service', 'WatchdogTimestampMonotonic')->{WatchdogTimestampMonotonic};
ok(wait_for(sub { show('clusterd@web.service', 'WatchdogTimestampMonotonic')
    ->{WatchdogTimestampMonotonic} > $wd0 }, $WD * 3, 'a watchdog ping'),
    'upgrade: the new image feeds the watchdog');
my $u2 = show('clusterd@web.service', qw(MainPID ActiveState NRestarts));
ok($u2->{MainPID} == $u0->{MainPID} && $u2->{ActiveState} eq 'active' &&
    $u2->{NRestarts} == $u0->{NRestarts}, 'upgrade: and systemd has not restarted it');
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'upgrade: systemctl stop') or diag($text);

# --- 12. The journal's fields (issue 16): clusterd's lines go in through
# the native protocol, so journalctl finds one worker's lines by
# CLUSTERD_WORKER_ID and filters them by PRIORITY.
($code, $text) = systemctl('start', 'clusterd@web.service');
is($code, 0, 'fields: systemctl start clusterd@web.service') or diag($text);
my $finv = show('clusterd@web.service', 'InvocationID')->{InvocationID};
my ($fw1) = map { $_->{pid} } grep { $_->{id} == 1 } serving(status_json());
ok($fw1, "fields: worker 1 runs (pid @{[ $fw1 // '?' ]})");
ct('/bin/kill', '-KILL', $fw1) if $fw1;
sub fields_of {
	require JSON::PP;
	my (@args) = @_;
	my (undef, $t) = ct('/usr/bin/journalctl', '--no-pager', '-o', 'json',
	    '-u', 'clusterd@web.service', "_SYSTEMD_INVOCATION_ID=$finv", @args);
	return map { eval { JSON::PP::decode_json($_) } // () } split(/\n/, $t);
}
my $fw1s = $fw1 // '?';
my $killed = qr/^clusterd: worker 1 \(pid \Q$fw1s\E\) killed by signal 9; restarting now$/;
ok(wait_for(sub { grep { ($_->{MESSAGE} // '') =~ $killed } fields_of('CLUSTERD_WORKER_ID=1') },
    10, 'the exit line in the journal'),
    'fields: journalctl -u clusterd@web.service CLUSTERD_WORKER_ID=1 finds its exit')
    or diag(journal_of($finv));
my @f1 = fields_of('CLUSTERD_WORKER_ID=1');
is(scalar(grep { ($_->{CLUSTERD_WORKER_ID} // '') ne '1' } @f1), 0,
    'fields: and only worker 1\'s lines');
ok((grep { ($_->{MESSAGE} // '') =~ /^clusterd: worker 1 \(pid \d+\) started/ } @f1),
    'fields: its start among them');
my ($fk) = grep { ($_->{MESSAGE} // '') =~ $killed } @f1;
is($fk->{PRIORITY}, 4, 'fields: the exit has PRIORITY=4');
is($fk->{CLUSTERD_EVENT}, 'worker_exited', 'fields: CLUSTERD_EVENT=worker_exited');
is($fk->{CLUSTERD_WORKER_PID}, $fw1, 'fields: CLUSTERD_WORKER_PID');
is($fk->{SYSLOG_IDENTIFIER}, 'clusterd', 'fields: SYSLOG_IDENTIFIER=clusterd');
my @fwarn = fields_of('-p', 'warning', 'CLUSTERD_WORKER_ID=1');
ok((grep { ($_->{MESSAGE} // '') =~ $killed } @fwarn) &&
    !(grep { ($_->{PRIORITY} // 9) > 4 } @fwarn),
    'fields: -p warning keeps the exit and drops the info lines')
    or diag(explain([map { "$_->{PRIORITY} $_->{MESSAGE}" } @fwarn]));
($code, $text) = systemctl('stop', 'clusterd@web.service');
is($code, 0, 'fields: systemctl stop') or diag($text);

ok(halt(), 'the container halts when systemd-nspawn is asked to');
done_testing();
