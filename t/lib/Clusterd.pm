package Clusterd;

# Helpers for the clusterd TAP tests (t/*.t): start the real binary, wait on
# conditions (never bare sleeps), look at workers through /proc, and kill
# everything a test started, by pid, however the test ends.
#
#	use FindBin; use lib "$FindBin::Bin/lib"; use Clusterd;
#	my $c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port",
#	    '--', $HELLO]);
#	$c->wait_log(qr/2 workers ready/) or BAIL_OUT(...);
#	my @pids = worker_pids($c->pid);
#	kill TERM => $c->pid; is(wait_exit($c), 0, 'exit 0');
#
# Environment: CLUSTERD (the binary), top_builddir, top_srcdir (set by
# make check), CLUSTERD_TEST_SLOW (a factor for every timeout, e.g. 3 under
# sanitizers or valgrind).

use strict;
use warnings;
use Cwd qw(abs_path getcwd);
use Errno qw(EINTR);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::IP;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(
	$CLUSTERD $HELLO $TOP_BUILDDIR $TOP_SRCDIR $TMPDIR $PYTHON3
	free_port free_udp_port have_ipv6 start_clusterd run_clusterd
	wait_for log_text log_matches wait_log wait_exit
	http_get http_get_unix udp_get worker_pids wait_workers answers_from_all
	proc_env proc_fds proc_stat proc_cmdline tagged_pids alive
	write_file slurp timeout dur_re pidfd_inode have_pidfs
	$CLUSTERCTL $NOTIFY_WORKER run_clusterctl spawn_clusterctl
	finish_clusterctl clusterctl ctl_request
	ctl_status live_workers worker_gens wait_generation
	start_load load_progress wait_load stop_load stop_loads hello_ids stop_ok
	open_conns poll_conns answer_of describe
	wakeups settle holds
);

our $SLOW = $ENV{CLUSTERD_TEST_SLOW} || 1;
our $TOP_SRCDIR = $ENV{top_srcdir} // abs_path(dirname(abs_path($0)) . '/..');
our $TOP_BUILDDIR = $ENV{top_builddir}
    // (-x getcwd() . '/src/clusterd' ? getcwd() : $TOP_SRCDIR);
our $CLUSTERD = $ENV{CLUSTERD} // "$TOP_BUILDDIR/src/clusterd";
our $HELLO = "$TOP_BUILDDIR/examples/hello";
our $PYTHON3 = '/usr/bin/python3';	# Debian's, which has python3-systemd
our $CLUSTERCTL = $ENV{CLUSTERCTL} // "$TOP_BUILDDIR/src/clusterctl";
our $NOTIFY_WORKER = "$TOP_SRCDIR/t/bin/notify-worker";	# run it with $PYTHON3
our $TMPDIR = tempdir('clusterd-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# Every process tree a test starts carries this mark in its environment,
# so cleanup can find workers that were never seen (orphans included).
my $TAG = "$$-" . int(time() * 1000);
my $counter = 0;
my @started;		# clusterd objects
my %seen;		# pid => start time, every worker ever seen

sub timeout { return $_[0] * $SLOW }

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return undef;
	local $/;
	my $s = <$fh>;
	return $s // '';
}

sub write_file {
	my ($path, $content, $mode) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	print {$fh} $content;
	close($fh) or die "$path: $!";
	chmod($mode, $path) if defined $mode;
	return $path;
}

# A duration as clusterd logs it: 0.3 matches "0.3s" or "300ms".
sub dur_re {
	my ($secs) = @_;
	my $ms = int($secs * 1000 + 0.5);
	my $s = $secs;
	$s =~ s/\.?0+$// if $s =~ /\./;
	return qr/(?:\Q$s\Es|\Q$ms\Ems)/;
}

# The inode of a pidfd for $pid (pidfd_open is syscall 434 everywhere);
# LISTEN_PIDFDID is this number where the kernel has pidfs.
sub pidfd_inode {
	my ($pid) = @_;
	my $fd = syscall(434, $pid + 0, 0);
	return undef if $fd < 0;
	my $ino = (stat("/proc/$$/fd/$fd"))[1];
	POSIX::close($fd);
	return $ino;
}

# pidfs gives every process its own pidfd inode (Linux 6.9+); before it,
# all pidfds shared one anonymous inode.
sub have_pidfs {
	my ($a, $b) = (pidfd_inode($$), pidfd_inode(getppid()));
	return defined $a && defined $b && $a != $b;
}

# Ports for tests come from below the kernel's ephemeral range, so no
# port 0 bind and no client's source port (here or in a test running beside
# this one) can take them between the check and clusterd's bind; none is
# handed out twice in one script.  A port counts as free when TCP and UDP,
# v4 and dual-stack v6, can all bind it.
my %handed_out;

sub port_is_free {
	my ($port) = @_;
	for my $proto (qw(tcp udp)) {
		for my $host ('0.0.0.0', '::') {
			my $s = IO::Socket::IP->new(LocalHost => $host,
			    LocalPort => $port, Proto => $proto, ReuseAddr => 0,
			    $proto eq 'tcp' ? (Listen => 1) : ());
			next if !$s && $host eq '::' && !have_ipv6();
			return 0 unless $s;
		}
	}
	return 1;
}

sub free_port {
	my ($lo) = split ' ', (slurp('/proc/sys/net/ipv4/ip_local_port_range')
	    // '32768');
	$lo = 32768 if !$lo || $lo < 12000;
	for (1 .. 1000) {
		my $port = 10000 + int(rand($lo - 10000));
		next if $handed_out{$port}++;
		return $port if port_is_free($port);
	}
	die "no free port below $lo";
}

sub free_udp_port { return free_port() }

sub have_ipv6 {
	my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1);
	return defined $s;
}

# Poll $cond every 15ms until it returns true or $secs pass.  Returns the
# condition's last value; says what it waited for when it times out.
sub wait_for {
	my ($cond, $secs, $what) = @_;
	my $deadline = time() + timeout($secs // 5);
	while (1) {
		my $v = $cond->();
		return $v if $v;
		if (time() >= $deadline) {
			diag("timed out after ${\ ($secs // 5)}s waiting for "
			    . ($what // 'a condition'));
			return $v;
		}
		sleep(0.015);
	}
}

# start_clusterd(args => [...], env => {K => V or undef}, dir => DIR,
#     split => 1): fork and exec the binary with stdin /dev/null and
# stdout+stderr to a log file ($c->{log}), or to $c->{out} and $c->{err}
# with split.  LISTEN_* and NOTIFY_SOCKET of the test's own environment
# are dropped unless env gives them.
sub start_clusterd {
	my (%o) = @_;
	my $n = ++$counter;
	my $c = bless({ args => $o{args} // [], n => $n }, __PACKAGE__);
	if ($o{split}) {
		$c->{out} = "$TMPDIR/clusterd-$n.out";
		$c->{err} = $c->{log} = "$TMPDIR/clusterd-$n.err";
	} else {
		$c->{out} = $c->{err} = $c->{log} = "$TMPDIR/clusterd-$n.log";
	}
	my $bin = $o{binary} // $CLUSTERD;
	die "$bin is not built\n" unless -x $bin;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		delete @ENV{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
		    LISTEN_PIDFDID NOTIFY_SOCKET PORT)};
		$ENV{CLUSTERD_TEST_TAG} = $TAG;
		for my $k (keys %{ $o{env} // {} }) {
			if (defined $o{env}{$k}) {
				$ENV{$k} = $o{env}{$k};
			} else {
				delete $ENV{$k};
			}
		}
		# no die here: it would run the END block in the child
		my $ok = (!defined $o{dir} || chdir($o{dir}))
		    && open(STDIN, '<', '/dev/null')
		    && open(STDOUT, '>', $c->{out})
		    && ($o{split} ? open(STDERR, '>', $c->{err})
			: open(STDERR, '>&', \*STDOUT));
		exec { $bin } $bin, @{ $c->{args} } if $ok;
		print STDERR "cannot start $bin: $!\n";
		POSIX::_exit(99);
	}
	$c->{pid} = $pid;
	$c->{started} = time();
	push(@started, $c);
	return $c;
}

# run_clusterd(...): start_clusterd with split output, wait for the exit.
# Returns (exit code, stdout, stderr).
sub run_clusterd {
	my (%o) = @_;
	my $secs = delete $o{timeout} // 5;
	my $c = start_clusterd(%o, split => 1);
	my $code = wait_exit($c, $secs);
	return ($code, slurp($c->{out}), slurp($c->{err}), $c);
}

sub pid { $_[0]{pid} }
sub log_file { $_[0]{log} }

sub log_text {
	my ($c) = @_;
	return slurp($c->{log}) // '';
}

# In list context the captures of the first match (or (1)), else a boolean.
sub log_matches {
	my ($c, $re) = @_;
	my @m = log_text($c) =~ $re;
	return wantarray ? @m : scalar(@m) > 0;
}

sub wait_log {
	my ($c, $re, $secs) = @_;
	my @m;
	wait_for(sub { @m = log_text($c) =~ $re; scalar @m }, $secs,
	    "log line $re");
	return wantarray ? @m : scalar(@m) > 0;
}

# Wait for the process to exit; returns its exit code, 128 + the signal
# when killed, or undef on timeout.  The raw status is in $c->{status}.
sub wait_exit {
	my ($c, $secs) = @_;
	return $c->{code} if exists $c->{code};
	my $ok = wait_for(sub {
		my $r = waitpid($c->{pid}, WNOHANG);
		if ($r == $c->{pid} || ($r == -1 && $! != EINTR)) {
			$c->{status} = $?;
			return 1;
		}
		return 0;
	}, $secs // 5, "pid $c->{pid} to exit");
	return undef unless $ok;
	$c->{code} = WIFEXITED($c->{status}) ? WEXITSTATUS($c->{status})
	    : 128 + WTERMSIG($c->{status});
	$c->{ended} = time();
	return $c->{code};
}

sub kill_it {
	my ($c, $sig) = @_;
	return kill($sig, $c->{pid});
}

sub proc_stat {
	my ($pid) = @_;
	my $s = slurp("/proc/$pid/stat") // return undef;
	my ($comm, $rest) = $s =~ /^\d+ \((.*)\) (.*)$/s or return undef;
	my @f = split(' ', $rest);
	return { comm => $comm, state => $f[0], ppid => $f[1], pgid => $f[2],
	    sid => $f[3], starttime => $f[19] };
}

sub alive {
	my ($pid) = @_;
	my $st = proc_stat($pid);
	return $st && $st->{state} ne 'Z' && $st->{state} ne 'X';
}

# The children of $pid (all its threads), as a sorted list; each one is
# remembered for cleanup.
sub worker_pids {
	my ($pid) = @_;
	my @kids;
	for my $f (glob("/proc/$pid/task/*/children")) {
		push(@kids, split(' ', slurp($f) // ''));
	}
	for my $k (@kids) {
		my $st = proc_stat($k) or next;
		$seen{$k} = $st->{starttime};
	}
	return sort { $a <=> $b } @kids;
}

# Wait until $pid has $n live children that have exec'd (their name is
# no longer clusterd's; $comm: that name); returns them.  A hello worker
# counts once it has set up its signals.
sub wait_workers {
	my ($pid, $n, $secs, $comm) = @_;
	my @w;
	wait_for(sub {
		@w = grep {
			my $st = proc_stat($_);
			$st && $st->{state} ne 'Z' && $st->{comm} ne 'clusterd'
			    && (!$comm || $st->{comm} eq $comm)
			    && ($st->{comm} ne 'hello' || hello_ready($_));
		} worker_pids($pid);
		return @w == $n;
	}, $secs, "$n workers of $pid");
	return @w;
}

# Which of @$pids answer through a shared socket?  $ask->() makes one
# request and returns the pid that answered.  The kernel picks the worker
# that accepts, and may favour some for a long time; so first up to 100
# plain requests, then, for each pid not heard from, one request while all
# the others are stopped (SIGSTOP), so that only it can accept.  Returns
# {pid => answers}.
sub answers_from_all {
	my ($pids, $ask) = @_;
	my %got;
	my $n = 0;
	wait_for(sub {
		my $p = $ask->();
		$got{$p}++ if defined $p;
		return ++$n >= 100 || !grep { !$got{$_} } @$pids;
	}, 10, 'answers');
	for my $p (grep { !$got{$_} } @$pids) {
		my @others = grep { $_ != $p } @$pids;
		kill(STOP => @others);
		my $q = eval { $ask->() };
		kill(CONT => @others);
		$got{$q}++ if defined $q;
	}
	return \%got;
}

# hello is ready (its signal handling set up) once it has a signalfd.
sub hello_ready {
	my ($pid) = @_;
	my $fds = proc_fds($pid) or return 0;
	return grep { defined && /signalfd/ } values %$fds;
}

sub proc_env {
	my ($pid) = @_;
	my $s = slurp("/proc/$pid/environ") // return undef;
	my %env;
	for my $kv (split(/\0/, $s)) {
		my ($k, $v) = split(/=/, $kv, 2);
		$env{$k} = $v;
	}
	return \%env;
}

sub proc_cmdline {
	my ($pid) = @_;
	my $s = slurp("/proc/$pid/cmdline") // return ();
	$s =~ s/\0\z//;
	return split(/\0/, $s, -1);
}

sub proc_fds {
	my ($pid) = @_;
	opendir(my $d, "/proc/$pid/fd") or return undef;
	my %fds;
	for my $fd (grep { /^\d+$/ } readdir($d)) {
		$fds{$fd} = readlink("/proc/$pid/fd/$fd");
	}
	return \%fds;
}

# Every live process that carries this test run's mark.
sub tagged_pids {
	my @pids;
	for my $dir (glob('/proc/[0-9]*')) {
		my ($pid) = $dir =~ /(\d+)$/;
		next if $pid == $$;
		my $env = slurp("$dir/environ") // next;
		push(@pids, $pid) if index($env, "CLUSTERD_TEST_TAG=$TAG\0") >= 0
		    && alive($pid);
	}
	return @pids;
}

sub read_all {
	my ($s, $secs) = @_;
	my $sel = IO::Select->new($s);
	my $deadline = time() + timeout($secs);
	my $buf = '';
	while (time() < $deadline) {
		last unless $sel->can_read($deadline - time());
		my $n = sysread($s, $buf, 65536, length($buf));
		last unless $n;
	}
	return $buf;
}

sub http_exchange {
	my ($s, $path, $secs) = @_;
	return undef unless $s;
	$path //= '/';
	syswrite($s, "GET $path HTTP/1.1\r\nHost: localhost\r\n"
	    . "Connection: close\r\n\r\n");
	my $r = read_all($s, $secs);
	my ($status, $head, $body) =
	    $r =~ m{^HTTP/1\.[01] (\d+)[^\r]*\r\n(.*?\r\n)\r\n(.*)}s
	    or return undef;
	return undef unless $status == 200;
	if ($head =~ /^Transfer-Encoding:\s*chunked\r$/mi) {
		my $plain = '';
		while ($body =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
			my $n = hex($1);
			last if $n == 0 || length($body) < $n + 2;
			$plain .= substr($body, 0, $n);
			substr($body, 0, $n + 2) = '';
		}
		$body = $plain;
	}
	return $body;
}

# GET http://HOST:PORT/PATH with Connection: close; the body, or undef.
sub http_get {
	my ($host, $port, $path, $secs) = @_;
	$secs //= 3;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => 'tcp', Timeout => timeout($secs));
	return http_exchange($s, $path, $secs);
}

# The same over a UNIX stream socket; "@name" is an abstract one.
sub http_get_unix {
	my ($path, $upath, $secs) = @_;
	$secs //= 3;
	(my $peer = $path) =~ s/^@/\0/;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $peer);
	return http_exchange($s, $upath, $secs);
}

# One datagram to HOST:PORT; the answer, or undef.
sub udp_get {
	my ($host, $port, $msg, $secs) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => 'udp') or return undef;
	syswrite($s, $msg // 'hello');
	return undef unless IO::Select->new($s)->can_read(timeout($secs // 3));
	my $buf;
	sysread($s, $buf, 65536) or return undef;
	return $buf;
}

# Kill all that this test started: each clusterd, every worker seen and
# every process carrying the mark, by pid.  A worker that is a process group
# leader gets its group killed too.
sub cleanup {
	my @pids = map { $_->{pid} } grep { !exists $_->{code} } @started;
	for my $pid (keys %seen) {
		my $st = proc_stat($pid);
		push(@pids, $pid) if $st && $st->{starttime} == $seen{$pid};
	}
	push(@pids, tagged_pids());
	for my $pid (@pids) {
		my $st = proc_stat($pid) or next;
		kill(KILL => -$pid) if $st->{pgid} == $pid && $pid != getpgrp();
		kill(KILL => $pid);
	}
	for my $c (@started) {
		waitpid($c->{pid}, 0) unless exists $c->{code};
	}
}

sub show_logs {
	for my $c (@started) {
		diag("clusterd " . join(' ', @{ $c->{args} }) . ":");
		diag("  $_") for split(/\n/, log_text($c));
		diag("  stdout: $_") for $c->{out} ne $c->{log}
		    ? split(/\n/, slurp($c->{out}) // '') : ();
	}
}

$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub { die "killed by SIG$_[0]\n" };
$SIG{PIPE} = 'IGNORE';

END {
	my $failed = $? != 0 || !Test::More->builder->is_passing;
	local $?;
	show_logs() if @started && $failed;
	cleanup();
}

# --- Control socket and clusterctl (issue 4) ---

my @ctls;		# clusterctl runs not waited for yet

# spawn_clusterctl(args => [...], env => {K => V or undef}, prefix =>
# [CMD...]): start clusterctl (after prefix, e.g. setpriv) with stdin
# /dev/null, without waiting; finish_clusterctl($h, SECS) waits for it
# (killing it after SECS) and returns (exit code or undef on timeout,
# stdout, stderr).  run_clusterctl(..., timeout => SECS) does both.
sub spawn_clusterctl {
	my (%o) = @_;
	die "$CLUSTERCTL is not built\n" unless -x $CLUSTERCTL;
	my $n = ++$counter;
	my $h = { out => "$TMPDIR/clusterctl-$n.out",
	    err => "$TMPDIR/clusterctl-$n.err", args => $o{args} // [] };
	my @cmd = (@{ $o{prefix} // [] }, $CLUSTERCTL, @{ $h->{args} });
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		delete @ENV{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
		    LISTEN_PIDFDID NOTIFY_SOCKET)};
		for my $k (keys %{ $o{env} // {} }) {
			if (defined $o{env}{$k}) {
				$ENV{$k} = $o{env}{$k};
			} else {
				delete $ENV{$k};
			}
		}
		my $ok = open(STDIN, '<', '/dev/null')
		    && open(STDOUT, '>', $h->{out})
		    && open(STDERR, '>', $h->{err});
		exec { $cmd[0] } @cmd if $ok;
		print STDERR "cannot run $cmd[0]: $!\n";
		POSIX::_exit(99);
	}
	$h->{pid} = $pid;
	push(@ctls, $h);
	return $h;
}

sub finish_clusterctl {
	my ($h, $secs) = @_;
	my $status;
	my $done = wait_for(sub {
		my $r = waitpid($h->{pid}, WNOHANG);
		$status = $? if $r == $h->{pid};
		return $r == $h->{pid} || ($r == -1 && $! != EINTR);
	}, $secs // 15, "clusterctl @{ $h->{args} }");
	unless ($done) {
		kill(KILL => $h->{pid});
		waitpid($h->{pid}, 0);
	}
	@ctls = grep { $_ != $h } @ctls;
	my $code = !defined $status ? undef : WIFEXITED($status)
	    ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
	return ($code, slurp($h->{out}) // '', slurp($h->{err}) // '');
}

sub run_clusterctl {
	my (%o) = @_;
	my $secs = delete $o{timeout};
	return finish_clusterctl(spawn_clusterctl(%o), $secs);
}

# clusterctl($ctlsock, ARG...): run_clusterctl with -s $ctlsock.
sub clusterctl {
	my ($sock, @args) = @_;
	return run_clusterctl(args => ['-s', $sock, @args]);
}

# Send $line (give the "\n") on a new connection to the control socket,
# read the answer until the server closes it.  Returns (code, message,
# body, raw answer), or () when the connection fails ($! says why).
sub ctl_request {
	my ($path, $line, $secs) = @_;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	    or return ();
	syswrite($s, $line) if defined $line && length $line;
	my $raw = read_all($s, $secs // 15);
	my ($code, $msg, $body) = $raw =~ /\A(\d+) ([^\n]*)\n(.*)\z/s;
	return ($code, $msg, $body, $raw);
}

# `status json` over the control socket, decoded; undef if that fails.
sub ctl_status {
	my ($path) = @_;
	require JSON::PP;
	my ($code, $msg, $body) = ctl_request($path, "status json\n", 5);
	return undef unless defined $body;
	return eval { JSON::PP::decode_json($body) };
}

# The live children of clusterd $pid that have exec'd ($comm: that name;
# hello ones once they have set up their signals), sorted by pid.
sub live_workers {
	my ($pid, $comm) = @_;
	return grep {
		my $st = proc_stat($_);
		$st && $st->{state} ne 'Z' && $st->{comm} ne 'clusterd'
		    && (!$comm || $st->{comm} eq $comm)
		    && ($st->{comm} ne 'hello' || hello_ready($_));
	} worker_pids($pid);
}

# {pid => [CLUSTERD_WORKER_ID, CLUSTERD_GENERATION]} of those workers.
sub worker_gens {
	my ($pid, $comm) = @_;
	my %w;
	for my $p (live_workers($pid, $comm)) {
		my $env = proc_env($p) or next;
		$w{$p} = [$env->{CLUSTERD_WORKER_ID}, $env->{CLUSTERD_GENERATION}];
	}
	return \%w;
}

# Wait until clusterd $pid has exactly $n exec'd workers, all of generation
# $gen; returns their pids.
sub wait_generation {
	my ($pid, $n, $gen, $secs, $comm) = @_;
	my @w;
	wait_for(sub {
		my $g = worker_gens($pid, $comm);
		@w = sort { $a <=> $b } keys %$g;
		return @w == $n && !grep { ($g->{$_}[1] // '') ne $gen } @w;
	}, $secs, "$n workers of generation $gen");
	return @w;
}

# --- A load generator: connection-per-request GETs in a child process ---
#
#	my $load = start_load($port);		# forks; returns at once
#	wait_load($load, 20);			# until 20 requests were answered
#	... restart, reload, scale ...
#	my $r = stop_load($load);
#	is($r->{failed}, 0, 'no failed request') or diag(@{ $r->{errors} });
#
# Each request is a new connection to HOST:PORT (127.0.0.1), "GET /" with
# Connection: close, answered by hello ("hello world from worker ID (pid
# PID)") within timeout (2s) or it counts as failed.  The child stops when
# stop_load asks (a file, so that no signal interrupts a request) or after
# max seconds (30).  stop_load returns {ok, failed, errors => [text...],
# pids => {pid => {id, gen, n}}, gens => {generation => answers}}.

my @loads;

sub start_load {
	my ($port, %o) = @_;
	my $n = ++$counter;
	my $l = bless({ file => "$TMPDIR/load-$n", port => $port,
	    host => $o{host} // '127.0.0.1', timeout => $o{timeout} // 2,
	    max => $o{max} // 30 }, 'Clusterd::Load');
	unlink("$l->{file}.stop", "$l->{file}.progress", $l->{file});
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
		eval { load_loop($l) };
		print STDERR "load: $@" if $@;
		POSIX::_exit(0);	# never the END blocks of the test
	}
	$l->{pid} = $pid;
	push(@loads, $l);
	return $l;
}

sub load_request {
	my ($l) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $l->{host},
	    PeerPort => $l->{port}, Proto => 'tcp',
	    Timeout => timeout($l->{timeout}))
	    or return (undef, "connect: " . ($@ || $!));
	syswrite($s, "GET / HTTP/1.1\r\nHost: localhost\r\n"
	    . "Connection: close\r\n\r\n")
	    or return (undef, "write: $!");
	my $t0 = time();
	my $r = read_all($s, $l->{timeout});
	return ($1, $2) if $r =~ m{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nhello world from worker (\d+) \(pid (\d+)\)\n\z}s;
	return (undef, sprintf('%s after %.2fs: "%s"',
	    length $r ? 'bad answer' : 'no answer', time() - $t0,
	    substr($r =~ s/\r?\n/ /gr, 0, 80)));
}

sub load_loop {
	my ($l) = @_;
	my $start = time();
	my ($ok, $failed, $last) = (0, 0, 0);
	my (%pids, @errors);
	my $progress = sub {
		write_file("$l->{file}.progress.tmp", "$ok $failed\n");
		rename("$l->{file}.progress.tmp", "$l->{file}.progress");
	};
	while (!-e "$l->{file}.stop" && time() - $start < $l->{max}) {
		my ($id, $pid) = load_request($l);	# (undef, why) on failure
		if (defined $id) {
			$ok++;
			$pids{$pid} //= { id => $id,
			    gen => (proc_env($pid) // {})->{CLUSTERD_GENERATION}
				// '?', n => 0 };
			$pids{$pid}{n}++;
		} else {
			$failed++;
			push(@errors, sprintf('%.3fs: %s', time() - $start, $pid))
			    if @errors < 20;
		}
		next if time() - $last < 0.05 && defined $id;
		$progress->();
		$last = time();
	}
	$progress->();
	my $out = "ok $ok\nfailed $failed\n";
	$out .= "pid $_ $pids{$_}{id} $pids{$_}{gen} $pids{$_}{n}\n" for keys %pids;
	$out .= "error $_\n" for @errors;
	write_file("$l->{file}.tmp", $out);
	rename("$l->{file}.tmp", $l->{file});
}

# {ok => N, failed => M} so far.
sub load_progress {
	my ($l) = @_;
	my ($ok, $failed) = (slurp("$l->{file}.progress") // '0 0') =~ /(\d+) (\d+)/;
	return { ok => $ok // 0, failed => $failed // 0 };
}

# Wait until $n more requests than now have been answered.
sub wait_load {
	my ($l, $n, $secs) = @_;
	my $want = load_progress($l)->{ok} + ($n // 10);
	return wait_for(sub { load_progress($l)->{ok} >= $want }, $secs // 10,
	    "$want answered requests");
}

sub stop_load {
	my ($l) = @_;
	write_file("$l->{file}.stop", '');
	my $done = wait_for(sub { waitpid($l->{pid}, WNOHANG) != 0 },
	    $l->{timeout} + 5, 'the load generator to stop');
	unless ($done) {
		kill(KILL => $l->{pid});
		waitpid($l->{pid}, 0);
	}
	@loads = grep { $_ != $l } @loads;
	my $r = { ok => 0, failed => 0, errors => [], pids => {}, gens => {} };
	for (split(/\n/, slurp($l->{file}) // "failed 1\nerror no result\n")) {
		if (/^(ok|failed) (\d+)$/) {
			$r->{$1} = $2;
		} elsif (/^pid (\d+) (\S+) (\S+) (\d+)$/) {
			$r->{pids}{$1} = { id => $2, gen => $3, n => $4 };
			$r->{gens}{$3} += $4;
		} elsif (/^error (.*)$/) {
			push(@{ $r->{errors} }, $1);
		}
	}
	return $r;
}

# The ids of the examples/hello workers that answer on 127.0.0.1:$port,
# asked until $n different ones have (or $secs pass), sorted.
sub hello_ids {
	my ($port, $n, $secs) = @_;
	my %ids;
	wait_for(sub {
		my $b = http_get('127.0.0.1', $port) // '';
		$ids{$1}++ if $b =~ /^hello world from worker (\d+) \(pid \d+\)\n\z/;
		return keys(%ids) == $n;
	}, $secs // 5, "$n workers to answer");
	return [sort { $a <=> $b } keys %ids];
}

# Requests that stay open: open_conns(PORT, N) makes N, each a connection with "GET /" sent, read by
# poll_conns as answers come.
sub open_conns {
	my ($port, $n) = @_;
	my @c;
	for (1 .. $n) {
		my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 2);
		if (!$s) {
			push(@c, { done => 1, err => "connect: $!", buf => '' });
			next;
		}
		syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		push(@c, { s => $s, buf => '', done => 0 });
	}
	return @c;
}

# Read what has arrived; returns how many are done (answered or failed).
sub poll_conns {
	my ($conns) = @_;
	for my $c (grep { !$_->{done} } @$conns) {
		my $sel = IO::Select->new($c->{s});
		while ($sel->can_read(0)) {
			my $r = sysread($c->{s}, $c->{buf}, 65536, length($c->{buf}));
			if (!defined $r) {
				$c->{err} = "read: $!";
				$c->{done} = 1;
			} elsif ($r == 0) {
				$c->{done} = 1;
			}
			last if $c->{done};
		}
	}
	return scalar(grep { $_->{done} } @$conns);
}

# (worker id, pid) of an answered request, or ().
sub answer_of {
	my ($c) = @_;
	return () if $c->{err};
	return $c->{buf} =~ m{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nhello world from worker (\d+) \(pid (\d+)\)\n\z}s;
}

sub describe {
	my ($c) = @_;
	return $c->{err} // ('"' . substr($c->{buf} =~ s/\r?\n/ /gr, 0, 80) . '"');
}

# SIGTERM to clusterd, and a check that it exits 0 ("$tag: SIGTERM: exit 0").
sub stop_ok {
	my ($c, $tag) = @_;
	kill TERM => $c->pid;
	Test::More::is(wait_exit($c), 0, "$tag: SIGTERM: exit 0");
}

# Stop several loads; their results summed: ok, failed, errors.
sub stop_loads {
	my $sum = { ok => 0, failed => 0, errors => [] };
	for my $l (@_) {
		my $r = stop_load($l);
		$sum->{ok} += $r->{ok};
		$sum->{failed} += $r->{failed};
		push(@{ $sum->{errors} }, @{ $r->{errors} });
	}
	return $sum;
}

END {
	local $?;
	for my $l (@loads, @ctls) {
		kill(KILL => $l->{pid});
		waitpid($l->{pid}, 0);
	}
}

1;

# --- Resource figures of a process (issue 8: chaos, crash loops, hostile
# input) ---
#
#	my $cpu = proc_cpu($pid);	# user + system CPU seconds so far
#	my $kb = proc_rss($pid);	# resident set, kB
#	my $n = fd_count($pid);		# open file descriptors
#	my @z = child_zombies($pid);	# its children that are zombies

push(@EXPORT, qw(proc_cpu proc_rss fd_count child_zombies));

sub proc_cpu {
	my ($pid) = @_;
	my $s = slurp("/proc/$pid/stat") // return undef;
	my ($rest) = $s =~ /^\d+ \(.*\) (.*)$/s or return undef;
	my @f = split(' ', $rest);
	my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
	return ($f[11] + $f[12]) / $hz;	# utime, stime (fields 14, 15)
}

sub proc_rss {
	my ($pid) = @_;
	my ($kb) = (slurp("/proc/$pid/status") // '') =~ /^VmRSS:\s+(\d+) kB$/m;
	return $kb;
}

sub fd_count {
	my ($pid) = @_;
	my $fds = proc_fds($pid) or return undef;
	return scalar(keys %$fds);
}

sub child_zombies {
	my ($pid) = @_;
	my @z;
	for my $dir (glob('/proc/[0-9]*')) {
		my ($p) = $dir =~ /(\d+)$/;
		my $st = proc_stat($p) or next;
		push(@z, $p) if $st->{ppid} == $pid && $st->{state} eq 'Z';
	}
	return @z;
}

1;

# --- Reuseport mode (issue 6): sockets in /proc/net, bursts of requests ---
#
#	my $l = listen_sockets($port);		# {inode => accept queue length}
#	my $ino = fd_inode($pid, 3);		# socket:[INODE] of a worker's fd
#	my $r = burst(port => $port, clients => 8, requests => 4000);
#	diag(balance_text($r));			# "ratio 1.13 (busiest 528 / idlest 468)"

push(@EXPORT, qw(listen_sockets fd_inode burst balance_ratio balance_text));

# The sockets bound to $port on any local address, from /proc/net/tcp and
# tcp6 (listening ones), or udp and udp6 with udp => 1: {inode => the
# receive queue}, which for a listening TCP socket is its accept queue's
# length (sk_ack_backlog) and for UDP the memory its datagrams take.  The
# kernel lists TCP listeners first: reading stops at the first other one,
# so thousands of TIME_WAIT sockets cost nothing.
sub listen_sockets {
	my ($port, %o) = @_;
	my $hex = sprintf('%04X', $port);
	my %s;
	for my $f ($o{udp} ? qw(udp udp6) : qw(tcp tcp6)) {
		open(my $fh, '<', "/proc/net/$f") or next;
		<$fh>;		# the header
		while (my $line = <$fh>) {
			my @f = split(' ', $line);
			last if !$o{udp} && ($f[3] // '') ne '0A';
			next unless @f > 9 && $f[1] =~ /:\Q$hex\E$/;
			next if $o{udp} && $f[3] ne '07';
			my ($rxq) = $f[4] =~ /:([0-9A-Fa-f]+)$/;
			$s{$f[9]} = hex($rxq);
		}
		close($fh);
	}
	return \%s;
}

# The inode of the socket that $pid has as $fd, or undef.
sub fd_inode {
	my ($pid, $fd) = @_;
	my ($ino) = (readlink("/proc/$pid/fd/$fd") // '') =~ /^socket:\[(\d+)\]$/;
	return $ino;
}

# burst(port => P, host => H (127.0.0.1), clients => C (8), requests => N
# (1000, all clients together), timeout => S (2), udp => 1): C child
# processes each make N/C connection-per-request GETs (each from its own
# source port; with udp, one datagram from a new socket each) to hello
# workers, at once.  Returns {ok, failed, errors => [...] (the first 20),
# pids => {pid => answers}, ids => {worker id => answers}, slowest =>
# seconds of the slowest answered request}.
sub burst {
	my (%o) = @_;
	my $clients = $o{clients} // 8;
	my $per = int(($o{requests} // 1000) / $clients);
	my @kids;
	for my $k (1 .. $clients) {
		pipe(my $r, my $w) or die "pipe: $!";
		my $pid = fork() // die "fork: $!";
		if ($pid == 0) {
			close($r);
			$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
			my $out = eval { burst_client(\%o, $per) } // "error $@\n";
			print {$w} $out;
			close($w);
			POSIX::_exit(0);	# never the END blocks of the test
		}
		close($w);
		push(@kids, [$pid, $r]);
	}
	my $res = { ok => 0, failed => 0, errors => [], pids => {}, ids => {},
	    slowest => 0 };
	for my $k (@kids) {
		my $fh = $k->[1];
		local $/;
		my $text = <$fh> // '';
		waitpid($k->[0], 0);
		$text = "failed $per\nerror a client ended without a word\n"
		    unless $text =~ /^ok /m;
		for (split(/\n/, $text)) {
			if (/^(ok|failed) (\d+)$/) {
				$res->{$1} += $2;
			} elsif (/^slowest (\S+)$/) {
				$res->{slowest} = $1 if $1 > $res->{slowest};
			} elsif (/^pid (\d+) (\d+) (\d+)$/) {
				$res->{pids}{$1} += $3;
				$res->{ids}{$2} += $3;
			} elsif (/^error (.*)$/) {
				push(@{ $res->{errors} }, $1) if @{ $res->{errors} } < 20;
			}
		}
	}
	return $res;
}

sub burst_client {
	my ($o, $n) = @_;
	my $host = $o->{host} // '127.0.0.1';
	my $secs = timeout($o->{timeout} // 2);
	my ($ok, $failed, $slowest) = (0, 0, 0);
	my (%got, @errors);
	for my $i (1 .. $n) {
		my $t0 = time();
		my ($answer, $why) = $o->{udp}
		    ? burst_datagram($host, $o->{port}, $secs)
		    : burst_request($host, $o->{port}, $secs);
		my $dt = time() - $t0;
		if (defined $answer && $answer =~
		    /hello world from worker (\d+) \(pid (\d+)\)\n\z/) {
			$ok++;
			$got{"$2 $1"}++;
			$slowest = $dt if $dt > $slowest;
		} else {
			$failed++;
			push(@errors, sprintf('%s after %.3fs', $why // sprintf(
			    'bad answer "%s"', substr($answer =~ s/\r?\n/ /gr, 0, 80)),
			    $dt)) if @errors < 20;
		}
	}
	my $out = "ok $ok\nfailed $failed\nslowest $slowest\n";
	$out .= "pid $_ $got{$_}\n" for keys %got;
	$out .= "error $_\n" for @errors;
	return $out;
}

sub burst_request {
	my ($host, $port, $secs) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => 'tcp', Timeout => $secs)
	    or return (undef, 'connect: ' . ($@ || $!));
	syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	    or return (undef, "write: $!");
	my $sel = IO::Select->new($s);
	my $deadline = time() + $secs;
	my $buf = '';
	while (1) {
		my $left = $deadline - time();
		return (undef, 'no answer' . (length $buf ? " (\"$buf\")" : ''))
		    if $left <= 0 || !$sel->can_read($left);
		my $r = sysread($s, $buf, 65536, length($buf));
		return (undef, "read: $!") unless defined $r;
		last if $r == 0;
	}
	return (undef, 'closed without an answer') unless length $buf;
	return (undef, 'not 200: "' . substr($buf, 0, 40) . '"')
	    unless $buf =~ m{\AHTTP/1\.[01] 200 [^\r]*\r\n.*?\r\n\r\n(.*)\z}s;
	return ($1);
}

sub burst_datagram {
	my ($host, $port, $secs) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => 'udp') or return (undef, "socket: $!");
	syswrite($s, 'hello') or return (undef, "send: $!");
	return (undef, 'no answer') unless IO::Select->new($s)->can_read($secs);
	my $buf;
	defined(sysread($s, $buf, 65536)) or return (undef, "recv: $!");
	return ($buf);
}

# busiest / idlest over $n workers (a worker that answered nothing makes it
# infinite: 9e9).
sub balance_ratio {
	my ($counts, $n) = @_;
	my @v = sort { $a <=> $b } values %$counts;
	return 9e9 if @v < ($n // @v) || !@v || $v[0] == 0;
	return $v[-1] / $v[0];
}

sub balance_text {
	my ($counts, $n) = @_;
	my @v = sort { $b <=> $a } values %$counts;
	my $r = balance_ratio($counts, $n);
	return sprintf('busiest/idlest %s, %d workers answered: %s',
	    $r >= 9e9 ? 'inf' : sprintf('%.2f', $r), scalar(@v), join(' ', @v));
}

# --- Programs another user runs (issue 11: the checkout anywhere) ---
#
#	my ($cd, $hello) = public_copies($CLUSTERD, $HELLO);
#	start_clusterd(binary => '/usr/bin/setpriv', args => ['--reuid=nobody',
#	    ..., $cd, '--', $hello]);
#
# The checkout may sit under a directory only root may enter (/root/clusterd
# in a 0700 /root), where a process of another user (nobody) can neither
# execute a program nor preload a library.  public_copies(PATH...) copies
# each file into a new directory that every user may enter (0755, in the
# system's temporary directory, removed at exit) and returns the copies'
# paths in order; each keeps its name, and its mode with read and execute
# for everyone.

push(@EXPORT, qw(public_copies));

sub public_copies {
	require File::Copy;
	my $dir = tempdir('clusterd-t-pub-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	chmod(0755, $dir) or die "chmod $dir: $!";
	for (my $up = dirname($dir); $up ne '/'; $up = dirname($up)) {
		die "public_copies: $up is closed to other users (set TMPDIR)\n"
		    unless ((stat($up))[2] // 0) & 0001;
	}
	my @copies;
	for my $f (@_) {
		my $to = "$dir/" . (split(m{/}, $f))[-1];
		die "public_copies: $to twice\n" if -e $to;
		File::Copy::copy($f, $to) or die "copy $f to $to: $!";
		chmod(((stat($f))[2] & 0777) | 0555, $to) or die "chmod $to: $!";
		push(@copies, $to);
	}
	return @copies;
}


# For a block that runs clusterd as a user (nobody when the test runs as
# root, so the host's /run/clusterd is never touched) with its default
# control path under a private XDG_RUNTIME_DIR. Returns a hash: as, the
# command prefix (setpriv ..., empty when not root); uid, that user's;
# pub, a 0755 directory for the test's files; xdg, the 0700 directory
# "pub/run" the user owns; env, the environment naming it. The caller
# skips when root and /usr/bin/setpriv is missing.
push(@EXPORT, qw(nobody_runtime));
sub nobody_runtime {
	my @as = $> == 0 ? ('/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup',
	    '--clear-groups') : ();
	my $uid = $> == 0 ? (getpwnam('nobody'))[2] : $>;
	my $pub = tempdir('clusterd-xdg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	chmod(0755, $pub);
	my $xdg = "$pub/run";
	mkdir($xdg, 0700);
	chown($uid, -1, $xdg);
	return (as => \@as, uid => $uid, pub => $pub, xdg => $xdg,
	    env => { XDG_RUNTIME_DIR => $xdg });
}

# --- Slot states through `status` (issue 12) ---
#
#	my $st = wait_settled($ctl, 4, 1);	# status json once settled
#	settled_ok($ctl, 4, 1, 'tag');		# the same as tests, text too
#	my $h = ctl_send($ctl, "restart\n");	# a request, answer read later
#	my ($code, $msg) = ctl_answer($h);
#
# A pool is settled when status --json says running, N wanted and N ready,
# with one row per slot 0..N-1, each a ready worker: no slot starting, in
# backoff or done, no second row.  With GEN, the pool's generation and every
# worker's is GEN.

push(@EXPORT, qw(status_rows settled wait_settled settled_ok ctl_send
    ctl_answer));

# "ID:GEN:STATE" for each row of a decoded status json, sorted.
sub status_rows {
	my ($st) = @_;
	return [sort map { join(':', $_->{id}, $_->{generation} // '-',
	    $_->{state}) } @{ ($st // {})->{workers} // [] }];
}

sub settled {
	my ($st, $n, $gen) = @_;
	return 0 unless $st && ($st->{state} // '') eq 'running'
	    && ($st->{workers_wanted} // -1) == $n
	    && ($st->{workers_ready} // -1) == $n
	    && (!defined $gen || ($st->{generation} // -1) == $gen);
	my @rows = @{ status_rows($st) };
	@rows = map { s/:[^:]*:/:*:/r } @rows unless defined $gen;
	my @want = sort map { "$_:" . ($gen // '*') . ':ready' } 0 .. $n - 1;
	return "@rows" eq "@want";
}

# Wait until status json over $ctl is settled; returns it, or undef (with
# the last one seen in diag) after $secs.
sub wait_settled {
	my ($ctl, $n, $gen, $secs) = @_;
	my $st;
	my $what = "$n of $n ready" . (defined $gen ? ", generation $gen" : '');
	return $st if wait_for(sub { $st = ctl_status($ctl); settled($st, $n, $gen) },
	    $secs // 5, $what);
	diag("status: " . join(' ', @{ status_rows($st) }) . ", "
	    . ($st->{workers_ready} // '?') . ' ready, generation '
	    . ($st->{generation} // '?') . ', state '
	    . ($st->{state} // '?'));
	return undef;
}

# Tests that the pool settles at $n ready workers (of generation $gen), as
# status --json and the text of clusterctl status say it.  Returns the json.
sub settled_ok {
	my ($ctl, $n, $gen, $tag, $secs) = @_;
	my $g = defined $gen ? ", generation $gen" : '';
	my $st = wait_settled($ctl, $n, $gen, $secs);
	ok($st, "$tag: status --json reaches $n of $n ready$g, one ready worker a slot");
	$st //= ctl_status($ctl) // {};
	ok(!(grep { $_->{state} eq 'done' } @{ $st->{workers} // [] }),
	    "$tag: status --json: no slot done");
	my ($code, $out, $err) = clusterctl($ctl, 'status');
	is($code, 0, "$tag: clusterctl status exits 0 (all ready)")
	    or diag($out, $err);
	my @rows = $out =~ /^\d+\s+\d+\s+ready\s+(\d+)\s/mg;
	ok($out =~ /^clusterd \(pid \d+\).*, generation (\d+), $n of $n workers? ready$/m
	    && @rows == $n && (!defined $gen || ($1 == $gen
	    && !grep { $_ != $gen } @rows)),
	    "$tag: clusterctl status: $n of $n ready$g, $n ready rows")
	    or diag($out);
	return $st;
}

# Send a request line without waiting: the connected socket, for
# ctl_answer, or undef.
sub ctl_send {
	my ($path, $line) = @_;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	    or return undef;
	syswrite($s, $line);
	return $s;
}

# The answer to ctl_send's request: (code, message, body).
sub ctl_answer {
	my ($s, $secs) = @_;
	return () unless $s;
	my $raw = read_all($s, $secs // 15);
	close($s);
	return $raw =~ /\A(\d+) ([^\n]*)\n(.*)\z/s;
}

# --- Per-worker cgroups (issue 13) ---
#
#	my ($mnt, $own) = cgroup2_self();	# "/sys/fs/cgroup/unified", "/"
#	my $dir = cgroup2_dir($own);		# the directory of a v2 cgroup
#	my $cg = proc_cgroup2($pid);		# "/clusterd.web/worker-0.g1"
#	my @p = cgroup2_pids($cg);		# the live processes in it
#	my $f = wait_family($dir, 0, 1);	# t/bin/family-worker's pids
#
# Paths of cgroups are as /proc/PID/cgroup gives them, relative to the root
# of the v2 hierarchy (this process's cgroup namespace); cgroup2_dir joins
# one to the mount point.

push(@EXPORT, qw(cgroup2_self cgroup2_dir cgroup2_join proc_cgroup2
    cgroup2_pids wait_family family_pids));

my $cgroup2_mnt;

# The mount point of the v2 hierarchy (from /proc/self/mountinfo) and this
# process's v2 cgroup (the "0::" line of /proc/self/cgroup); () when there
# is none.
sub cgroup2_self {
	unless (defined $cgroup2_mnt) {
		$cgroup2_mnt = '';
		for (split(/\n/, slurp('/proc/self/mountinfo') // '')) {
			my ($pre, $post) = split(/ - /, $_, 2);
			next unless defined $post && $post =~ /^cgroup2 /;
			my @f = split(' ', $pre);
			($cgroup2_mnt = $f[4]) =~ s/\\040/ /g;
			last;
		}
	}
	my $own = proc_cgroup2('self');
	return () unless length $cgroup2_mnt && defined $own;
	return ($cgroup2_mnt, $own);
}

# "/a/b" + "c" = "/a/b/c", "/" + "c" = "/c".
sub cgroup2_join {
	my ($cg, $name) = @_;
	return ($cg eq '/' ? '' : $cg) . "/$name";
}

sub cgroup2_dir {
	my ($cg) = @_;
	my ($mnt) = cgroup2_self() or return undef;
	return $cg eq '/' ? $mnt : "$mnt$cg";
}

# The v2 cgroup of $pid ("self" works), or undef if it is gone.
sub proc_cgroup2 {
	my ($pid) = @_;
	my ($cg) = (slurp("/proc/$pid/cgroup") // '') =~ /^0::(\S+)$/m;
	return $cg;
}

# The live processes whose v2 cgroup is $cg, as /proc says, sorted.
sub cgroup2_pids {
	my ($cg) = @_;
	my @pids;
	for my $dir (glob('/proc/[0-9]*')) {
		my ($pid) = $dir =~ /(\d+)$/;
		next unless (proc_cgroup2($pid) // '') eq $cg && alive($pid);
		push(@pids, $pid);
	}
	return sort { $a <=> $b } @pids;
}

# What t/bin/family-worker (--family $dir) of slot $id, generation $gen
# wrote: {worker => PID, daemon => PID, setsid => PID}, or undef.
sub family_pids {
	my ($dir, $id, $gen) = @_;
	my $s = slurp("$dir/family-$id-$gen") // return undef;
	my %f = $s =~ /^(worker|daemon|setsid) (\d+)$/mg;
	return keys(%f) == 3 ? \%f : undef;
}

# Wait for it; every pid is remembered for cleanup (the descendants are
# nobody's children that worker_pids would see).
sub wait_family {
	my ($dir, $id, $gen, $secs) = @_;
	my $f;
	wait_for(sub { $f = family_pids($dir, $id, $gen) }, $secs // 10,
	    "the family of worker $id, generation $gen");
	for my $pid (values %{ $f // {} }) {
		my $st = proc_stat($pid) or next;
		$seen{$pid} = $st->{starttime};
	}
	return $f;
}


# Voluntary context switches of all of $pid's threads: each time it slept
# and woke up.
sub wakeups {
	my ($pid) = @_;
	my $n = 0;
	for my $f (glob("/proc/$pid/task/*/status")) {
		my ($v) = (slurp($f) // '') =~ /^voluntary_ctxt_switches:\s*(\d+)$/m;
		$n += $v // 0;
	}
	return $n;
}

# Wait until $pid has not woken for half a second: what our own last
# requests to it (a status, the close of its connection) made it do is
# over.  Returns the count of wake-ups then.
sub settle {
	my ($pid) = @_;
	my ($last, $since) = (-1, time());
	wait_for(sub {
		my $v = wakeups($pid);
		($last, $since) = ($v, time()) if $v != $last;
		return time() - $since >= 0.5;
	}, 5, "clusterd $pid to be quiet for 0.5 s");
	return $last;
}

# True if $cond stays true, looked at every 50 ms, for $secs.
sub holds {
	my ($cond, $secs) = @_;
	my $end = time() + $secs;
	while (time() < $end) {
		return 0 unless $cond->();
		sleep(0.05);
	}
	return $cond->() ? 1 : 0;
}

1;
