# Hostile input everywhere (issue 8): config files that are huge, binary,
# full of NULs, with 1 MB lines or thousands of sections; addresses and
# values at and past their limits; control clients that send garbage,
# nothing, 100 MB, open 1,000 connections or hang up mid-reply; notify
# datagrams with file descriptors, oversized, malformed, by the thousand,
# from a foreign pid; a worker that leaves 1,000 orphans, one that closes
# its stdout. Each gets a clear error, or is ignored with a bounded number
# of log lines; clusterd never crashes, blocks or leaks a descriptor.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

my $QUICK = 5;			# seconds a refused config may take
my $MAX_ERR_LINES = 100;	# lines of errors a bad file may print

sub nlines { my ($s) = @_; return scalar(() = ($s // '') =~ /\n/g) }

# Lines of a file from byte $from on, without reading it all at once.
sub lines_from {
	my ($path, $from) = @_;
	open(my $fh, '<', $path) or return 0;
	seek($fh, $from, 0);
	my $n = 0;
	$n++ while <$fh>;
	return $n;
}

# Cut a long log down to its first lines, so that the diagnostics of a
# failure (which show every log) stay readable.
sub cut_log {
	my ($path) = @_;
	my $n = lines_from($path, 0);
	return if $n <= 200;
	open(my $fh, '<', $path) or return;
	my @head;
	while (<$fh>) { push(@head, $_); last if @head >= 40 }
	close($fh);
	write_file($path, join('', @head) . "[... $n lines in all, cut by t/hostile.t]\n");
}

our $stderr_kid;
END { kill(KILL => $stderr_kid) if $stderr_kid }
sub sanitizer_report { my ($s) = @_; return ($s // '') =~ /Sanitizer|runtime error|Segmentation|core dumped/ }

# --- Config files ---------------------------------------------------------

srand(8);
my $random = join('', map { chr(int(rand(256))) } 1 .. 65536) x 160;	# 10 MB
my %files = (
	'10 MB of random bytes' => $random,
	'10 MB of one-character lines' => "x\n" x 5_000_000,
	'10 MB in one line' => "[program]\ncommand = " . ('a' x (10 << 20)) . "\n",
	'binary: every byte value' => join('', map { chr } 0 .. 255) x 64,
	'NUL bytes' => "[program]\ncommand = /bin/true\0--bad\n" . ("\0" x 100_000) . "\n",
	'ten 1 MB lines' => "[program]\n" . join('', map { "command$_ = " . ('b' x (1 << 20)) . "\n" } 1 .. 10),
	'10,000 unknown sections' => join('', map { "[section$_]\nkey = value\n" } 1 .. 10_000),
	'10,000 socket sections with a bad address' =>
	    join('', map { "[socket:s$_]\nlisten = 127.0.0.1:99999\n" } 1 .. 10_000)
	    . "[program]\ncommand = /bin/true\n",
	'a 1 MB [section] header' => '[' . ('s' x (1 << 20)) . "]\n[program]\ncommand = /bin/true\n",
	'100,000 [env] keys, one duplicated' => "[program]\ncommand = /bin/true\n[env]\n"
	    . join('', map { "K$_ = v\n" } 1 .. 100_000) . "K1 = again\n",
);
for my $what (sort keys %files) {
	my $file = write_file("$TMPDIR/hostile.conf", $files{$what});
	my $t0 = time();
	my ($code, $out, $err, $c) = run_clusterd(args => ['-c', $file, '-l', 'none'],
	    timeout => 20);
	my $secs = time() - $t0;
	unless (defined $code) {
		kill(KILL => $c->pid);
		wait_exit($c, 5);
	}
	cut_log($c->log_file);
	is($code, 2, "config, $what: exit 2");
	cmp_ok($secs, '<', timeout($QUICK), sprintf("config, $what: refused quickly (%.2fs)", $secs));
	like($err, qr/^clusterd: \Q$file\E(?::\d+)?: \S/m, "config, $what: says FILE:LINE: why")
	    or diag(substr($err // '', 0, 500));
	cmp_ok(nlines($err), '<=', $MAX_ERR_LINES,
	    "config, $what: at most $MAX_ERR_LINES lines of errors (" . nlines($err) . ')');
	ok(!sanitizer_report($err), "config, $what: no crash");
}

# Thousands of good sections: accepted, quickly.
{
	my $file = write_file("$TMPDIR/many.conf",
	    join('', map { "[socket:s$_]\nlisten = unix:\@clusterd-hostile-$$-$_\n" } 1 .. 5000)
	    . "[program]\ncommand = /bin/true {fd:s5000}\n");
	my $t0 = time();
	my ($code, $out, $err) = run_clusterd(args => ['-c', $file, '--check'], timeout => 30);
	is($code, 0, 'config, 5,000 socket sections: --check exit 0') or diag($err);
	cmp_ok(time() - $t0, '<', timeout($QUICK), 'config, 5,000 socket sections: quickly');
}

# --- Addresses and values at and past their limits (--check) --------------

my $long_path = '/tmp/' . ('p' x 102);	# 107 bytes: the most sun_path holds
my @limits = (
	[['-l', '127.0.0.1:65535'], 0],
	[['-l', '127.0.0.1:65536'], 2, qr/bad port/],
	[['-l', '127.0.0.1:-1'], 2, qr/bad port/],
	[['-l', '99999999999999999999'], 2, qr/bad port/],
	[['-l', ":0"], 0],
	[['-l', '[::1]:65535'], 0],
	[['-l', '[::1'], 2, qr/V6ADDR/],
	[['-l', ('h' x 300) . ':80'], 2, qr/host too long/],
	[['-l', "unix:$long_path"], 0],
	[['-l', "unix:${long_path}x"], 2, qr/longer than 107/],
	[['-l', 'unix:@' . ('a' x 106)], 0],
	[['-l', 'unix:@' . ('a' x 107)], 2, qr/longer than 107/],
	[['-l', 'unix:@'], 2, qr/empty/],
	[['-l', 'udp:/x'], 2, qr/udp: takes an IP address/],
	[['-n', 100000], 0],
	[['-n', 100001], 2],
	[['-n', -1], 2],
	[['-t', '8784h'], 0],		# 366 days: the longest duration
	[['-t', '8785h'], 2],
	[['-t', '31622401'], 2],
	[['-t', '1e999'], 2],
	[['-t', '-1s'], 2],
	[['-t', 'nan'], 2],
	[['--ready=8785h'], 2],
	[['--ready=0'], 0],
);
for my $l (@limits) {
	my ($args, $want, $re) = @$l;
	my ($code, $out, $err) = run_clusterd(args => [@$args, '--check', '--', '/bin/true']);
	my $what = join(' ', map { length > 40 ? substr($_, 0, 37) . '...' : $_ } @$args);
	is($code, $want, "limits, $what: exit $want") or diag($err);
	like($err, $re, "limits, $what: says why") if $re;
	ok(!sanitizer_report($err), "limits, $what: no crash");
}
my @keys = (
	['clusterd', 'workers', '100000', '100001'],
	['clusterd', 'give_up_after', '1000000', '1000001'],
	['clusterd', 'restart_batch', '100000', '0'],
	['clusterd', 'stop_timeout', '31622400', '31622401'],
	['socket:a', 'backlog', '2147483647', '2147483648'],
	['socket:a', 'rcvbuf', '1g', '2g'],
	['socket:a', 'sndbuf', '2147483647', '2147483648'],
	['socket:a', 'mode', '07777', '010000'],
	['socket:a', 'defer_accept', '8784h', '8785h'],
	['program', 'umask', '0777', '01000'],
	['program', 'rlimit_nofile', '2147483647', '2147483648'],
	['program', 'ready_timeout', '8784h', '8785h'],
	['program', 'backoff_max', '8784h', '8785h'],
	['program', 'watchdog', '1us', '1ns'],
	['program', 'stop_signal', '64', '65'],
);
for my $k (@keys) {
	my ($section, $key, $good, $bad) = @$k;
	for my $v ([$good, 0], [$bad, 2]) {
		my %s = ('socket:a' => "listen = 127.0.0.1:0\n", program => "command = /bin/true\n",
		    clusterd => '');
		$s{$section} .= "$key = $v->[0]\n";
		my $file = write_file("$TMPDIR/limit.conf",
		    join('', map { "[$_]\n$s{$_}" } sort keys %s));
		my ($code, $out, $err) = run_clusterd(args => ['-c', $file, '--check']);
		is($code, $v->[1], "limits, $key = $v->[0]: exit $v->[1]") or diag($err);
		like($err, qr/^clusterd: \Q$file\E:\d+: .*\Q$key\E/m, "limits, $key = $v->[0]: FILE:LINE names the key")
		    if $v->[1];
	}
}

# --- Control clients ------------------------------------------------------

my $ctl = "$TMPDIR/ctl.sock";
my $conf = "$TMPDIR/good.conf";
my $good = "[clusterd]\nworkers = 4\n[socket:http]\nlisten = 127.0.0.1:0\n"
    . "[program]\ncommand = $HELLO\n";
write_file($conf, $good);
my $c = start_clusterd(args => ['-c', $conf, '-s', $ctl]);
my $pid = $c->pid;
is(scalar(wait_workers($pid, 4, 10, 'hello')), 4, 'a cluster of 4');
ok(wait_for(sub { my ($x) = ctl_request($ctl, "status\n", 2); defined $x }, 5),
    'its control socket answers');
my $fd0 = fd_count($pid);
my $lines0 = nlines(log_text($c));

# Does clusterd answer `clusterctl status` within $secs?
sub answers {
	my ($secs) = @_;
	my $t0 = time();
	my ($code) = run_clusterctl(args => ['-s', $ctl, 'status'], timeout => $secs // 5);
	return defined $code && $code <= 3 && time() - $t0 < timeout($secs // 5);
}

sub ctl_connect { IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ctl) }

# Garbage: a code 2 answer each time.
my $bad = 0;
for my $i (1 .. 50) {
	my $junk = join('', map { chr(int(rand(256))) } 1 .. 1 + int(rand(900)));
	$junk =~ tr/\n//d;
	my ($code) = ctl_request($ctl, "$junk\n", 5);
	$bad++ unless defined $code && $code == 2;
}
is($bad, 0, 'control, 50 garbage requests: each answered with code 2');
my @odd = ("\n", "\r\n", "\0\n", "status\0json\n", "status json extra words here\n",
    "scale 99999999999999999999\n", "scale -1\n", "signal KILL 99999999\n",
    "signal 65\n", "status " . ('x' x 1000) . "\n", 'x' x 1025, "\t \t\n");
for my $r (@odd) {
	my ($code, $msg) = ctl_request($ctl, $r, 5);
	(my $shown = substr($r, 0, 30)) =~ s/([^ -~])/sprintf('\\x%02x', ord $1)/ge;
	ok(defined $code && $code >= 1, "control, \"$shown\": refused ($msg)");
}

# Nothing at all: ten silent clients do not stand in anyone's way.
my @silent = grep { defined } map { ctl_connect() } 1 .. 10;
is(scalar(@silent), 10, 'control: ten silent clients connected');
ok(answers(2), 'control: status answers beside them');

# 100 MB in one request: cut off after the line limit.
{
	my $s = ctl_connect();
	$s->blocking(0);
	my ($sent, $chunk, $t0) = (0, 'y' x 65536, time());
	while ($sent < 100 << 20 && time() - $t0 < timeout(20)) {
		my $n = syswrite($s, $chunk);
		if (defined $n) {
			$sent += $n;
		} elsif ($!{EAGAIN}) {
			IO::Select->new($s)->can_write(0.1);
		} else {
			last;
		}
	}
	$s->blocking(1);
	my $answer = Clusterd::read_all($s, 5);
	diag(sprintf('control, 100 MB: the server stopped it after %d bytes, in %.2fs', $sent,
	    time() - $t0));
	like($answer, qr/^2 request too long$/m, 'control, 100 MB: "request too long"');
	cmp_ok($sent, '<', 100 << 20, 'control, 100 MB: not read to the end');
	ok(answers(2), 'control, 100 MB: status answers');
}

# 1,000 connections at once, then a request on each.
{
	my @conns = grep { defined } map { ctl_connect() } 1 .. 1000;
	is(scalar(@conns), 1000, 'control: 1,000 connections open');
	ok(answers(5), 'control, 1,000 connections: status still answers');
	syswrite($_, "status\n") for @conns;
	my $answered = grep { Clusterd::read_all($_, 5) =~ /^0 ok/ } @conns;
	is($answered, 1000, 'control, 1,000 connections: each one answered');
	close($_) for @conns;
}

# Hanging up mid-reply, and while a restart or reload is waited for.
for (1 .. 200) {
	my $s = ctl_connect() or next;
	syswrite($s, "status json\n");
	close($s);
}
for my $op ('restart', 'reload', 'restart', 'status') {
	my $s = ctl_connect();
	syswrite($s, "$op\n");
	close($s);
}
ok($c->wait_log(qr/rolling restart to generation 2 done/, 20),
    'control, hung-up requests: the restart still ran');
ok($c->wait_log(qr/rolling restart to generation 3 done/, 20),
    'control, hung-up requests: and the one queued behind it');
ok(answers(5), 'control, hung-up requests: status answers');

close($_) for @silent;
my $fd;
ok(wait_for(sub { $fd = fd_count($pid); $fd == $fd0 }, 5, "$fd0 fds"),
    "control: clusterd's fd count back to $fd0") or diag("$fd fds now:\n"
    . join("\n", map { "  $_" } sort values %{ proc_fds($pid) // {} }));

ok(alive($pid), 'clusterd alive after the control clients');

# --- A reload of a 10 MB bad file -------------------------------------------
#
# Refused, and clusterd keeps answering meanwhile. Its own cluster: the log
# may get long, and is cut down afterwards (diagnostics stay readable).
{
	my $rctl = "$TMPDIR/reload.sock";
	my $rconf = write_file("$TMPDIR/reload.conf", "[clusterd]\nworkers = 1\n"
	    . "[program]\ncommand = sleep 1000\n");
	my $rc = start_clusterd(args => ['-c', $rconf, '-s', $rctl]);
	wait_workers($rc->pid, 1, 10, 'sleep');
	ok(wait_for(sub { my ($x) = ctl_request($rctl, "status\n", 2); defined $x }, 5),
	    'reload: a cluster to reload');
	write_file($rconf, "x\n" x 5_000_000);
	my $mark = -s $rc->log_file;
	kill HUP => $rc->pid;
	my $t0 = time();
	my ($code) = run_clusterctl(args => ['-s', $rctl, 'status'], timeout => 2);
	ok(defined $code && time() - $t0 < timeout(2),
	    sprintf('reload of a 10 MB bad file: status answers within 2 s (%.1fs)', time() - $t0));
	ok(wait_for(sub { open(my $fh, '<', $rc->log_file) or return 0; seek($fh, $mark, 0);
	    read($fh, my $buf, 4096); $buf =~ /reload refused/ }, 60),
	    'reload of a 10 MB bad file: refused');
	ok($rc->wait_log(qr/: \d+ more errors not shown; stopped reading after line 1000$/m, 5),
	    'reload of a 10 MB bad file: reading stopped after 1000 errors, and the log says so');
	ok(wait_for(sub { my ($x) = ctl_request($rctl, "status\n", 2); defined $x }, 60,
	    'clusterd to answer again'), 'reload of a 10 MB bad file: clusterd answers again');
	diag(sprintf('reload of the 10 MB file: answering again after %.1fs', time() - $t0));
	ok(alive($rc->pid), 'reload of a 10 MB bad file: clusterd alive');
	kill TERM => $rc->pid;
	is(wait_exit($rc, 30), 0, 'reload of a 10 MB bad file: exit 0');
	my $new = lines_from($rc->log_file, $mark);
	cmp_ok($new, '<=', $MAX_ERR_LINES, "reload of a 10 MB bad file: at most $MAX_ERR_LINES log lines ($new)");
	cut_log($rc->log_file);
}

# --- Notify datagrams -----------------------------------------------------
#
# Each kind of bad datagram goes to its own worker's socket: clusterd logs
# at most five drops a second per worker, so each kind gets its first lines
# logged without waiting for the limit's second to pass.

my (%wpid, %nsock);
for my $row (@{ (ctl_status($ctl) // {})->{workers} // [] }) {
	$wpid{$row->{id}} = $row->{pid};
	$nsock{$row->{id}} = (proc_env($row->{pid} // 0) // {})->{NOTIFY_SOCKET};
}
ok(4 == grep({ $nsock{$_} && -S $nsock{$_} } 0 .. 3), 'workers 0-3 have their NOTIFY_SOCKET')
    or diag(explain(\%nsock));
$fd0 = fd_count($pid);

# Send datagrams to a socket from a python3 child: STEP... as "fds=N:TEXT",
# "size=N", "raw=HEX", "flood=SECONDS". Prints what it did.
my $SENDER = <<'END';
import array, os, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
null = [os.open("/dev/null", os.O_RDONLY) for _ in range(250)]
for step in sys.argv[2:]:
    kind, _, arg = step.partition("=")
    if kind == "fds":
        n, _, text = arg.partition(":")
        s.sendmsg([text.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                    array.array("i", null[:int(n)]))], 0, path)
    elif kind == "size":
        try:
            s.sendto(b"STATUS=" + b"x" * (int(arg) - 7), path)
        except OSError as e:
            print("size %s: %s" % (arg, e))
    elif kind == "raw":
        s.sendto(bytes.fromhex(arg), path)
    elif kind == "flood":
        s.setblocking(False)
        n, end = 0, time.time() + float(arg)
        while time.time() < end:
            try:
                s.sendto(b"junk", path)
                n += 1
            except BlockingIOError:
                time.sleep(0.0005)
        s.setblocking(True)
        print("flood: %d datagrams" % n)
    elif kind == "linger":
        # Stay alive (at most 30 s) until the file arg exists: the
        # sender must be a live process when clusterd reads its datagram.
        end = time.time() + 30
        while not os.path.exists(arg) and time.time() < end:
            time.sleep(0.01)
END
sub notify_send {
	my ($id, @steps) = @_;
	my $out = `$PYTHON3 -c '$SENDER' '$nsock{$id}' @steps 2>&1`;
	diag($out) if $out =~ /\S/;
	return $? == 0;
}
# The log line clusterd writes for a datagram worker $id dropped.
sub dropped { my ($id, $why) = @_; return qr/^clusterd: worker $id \(pid $wpid{$id}\): dropped $why/m }

ok(notify_send(0, map { "fds=$_:READY=1" } 1, 3, 250), 'notify: datagrams with 1, 3, 250 fds sent');
ok(wait_for(sub { fd_count($pid) == $fd0 }, 3, "$fd0 fds"), "notify, fds attached: none kept ($fd0 fds)");
ok($c->wait_log(dropped(0, 'notify message with file descriptors attached')),
    'notify, fds attached: dropped, and said so');
ok(notify_send(1, map { "size=$_" } 4097, 65536, 200000), 'notify: oversized datagrams sent');
ok($c->wait_log(dropped(1, 'oversized notify message')), 'notify, oversized: dropped, and said so');
ok(notify_send(2, map { "raw=$_" } unpack('H*', 'READY'), unpack('H*', '=1'),
    unpack('H*', "READY=1\0x"), 'fffe', ''), 'notify: malformed datagrams sent');
ok($c->wait_log(dropped(2, 'malformed notify message')), 'notify, malformed: dropped, and said so');
my $tf = time();
ok(notify_send(3, 'flood=2'), 'notify: a 2 s flood of junk');
ok(answers(2), 'notify, flood: status answers');
ok(alive($wpid{3}), 'notify, flood: the worker was left alone');

# A datagram from a live process outside the worker's tree (this test):
# not the worker's word (CONTRACT §4: checked by SCM_CREDENTIALS). The
# line saying it was dropped proves clusterd read it; only then is the
# status worth looking at.
{
	my $mark = length(log_text($c));
	my $go = "$TMPDIR/sender-may-go";
	my $sender = fork() // die "fork: $!";
	if ($sender == 0) {
		exec($PYTHON3, '-c', $SENDER, $nsock{0},
		    'raw=' . unpack('H*', 'STATUS=spoofed by a foreign pid'), "linger=$go");
		exit(127);
	}
	ok(alive($sender), 'notify: a foreign pid sends STATUS=');
	my $why = "notify message from a process outside the worker's tree";
	ok(wait_for(sub { substr(log_text($c), $mark) =~ dropped(0, $why) }, 5, 'the drop to be logged'),
	    "notify: a foreign pid's message is dropped, and the log says so");
	write_file($go, '');
	waitpid($sender, 0);
	my $st = ctl_status($ctl) // {};
	my ($row) = grep { ($_->{id} // -1) == 0 } @{ $st->{workers} // [] };
	is(($row // {})->{pid}, $wpid{0}, 'notify: worker 0 is the same');
	isnt(($row // {})->{status} // '', 'spoofed by a foreign pid',
	    "notify: a foreign pid's message is not taken");
	my $lines = () = substr(log_text($c), $mark) =~ /^clusterd: worker 0 /mg;
	is($lines, 1, 'notify: a foreign pid: one log line');
}
is(fd_count($pid), $fd0, "notify: clusterd's fd count unchanged ($fd0)");

kill TERM => $pid;
is(wait_exit($c, 15), 0, 'the control and notify cluster stops with exit 0');
# All it will ever log is in: the flood's drops, over its whole life.
{
	my $secs = time() - $tf;
	my $re = dropped(3, '');
	my $new = () = log_text($c) =~ /$re/g;
	cmp_ok($new, '<=', 5 * ($secs + 2), sprintf("notify, flood: rate-limited log ($new lines in %.1f s)", $secs));
	cmp_ok($new, '>=', 5, 'notify, flood: dropped, and said so');
}

# --- A worker that leaves 1,000 orphans (--subreaper) -----------------------

my $marker = "$TMPDIR/forked";
my $hold = "$TMPDIR/hold";
POSIX::mkfifo($hold, 0600) or die "mkfifo $hold: $!";
open(my $holder, '+<', $hold) or die "$hold: $!";	# the FIFO's only writer
my $forker = write_file("$TMPDIR/forker.pl", <<'END');
# Slot 0, the first time: 1,000 children that read a FIFO until the test
# closes its end, so that they outlive the worker and become clusterd's,
# however slowly the forks went; then it exits. Each leaves the worker's
# process group (setsid): what stays in it is stopped with the worker
# (t/leftover.t), and this is about orphans that got away.
use POSIX ();
if ($ENV{CLUSTERD_WORKER_ID} eq '0' && !-e $ARGV[0]) {
	open(my $r, '<', $ARGV[1]) or die "$ARGV[1]: $!";
	pipe(my $left, my $said) or die "pipe: $!";
	my $n = 0;
	for (1 .. 1000) {
		my $p = fork() // last;
		if ($p == 0) {
			POSIX::setsid();
			syswrite($said, 'x');
			close($said);
			sysread($r, my $b, 1);
			exec('/bin/true') or POSIX::_exit(0);
		}
		$n++;
	}
	# Exit only once every child has left the process group: one still
	# in it is the worker's, stopped with it, and no orphan.
	close($said);
	my $got = 0;
	while ($got < $n) {
		my $k = sysread($left, my $b, 4096) or last;
		$got += $k;
	}
	open(my $fh, '>', "$ARGV[0].tmp") or die;
	print {$fh} "$n\n";
	close($fh);
	rename("$ARGV[0].tmp", $ARGV[0]) or die;
	exit(0);
}
exec('sleep', '1000');
END
# (--cgroups=no: in a cgroup of its own the worker's escaped children are
# its leftovers, stopped with it; this is about adopting orphans.)
$c = start_clusterd(args => ['--cgroups=no', '--subreaper', '-n', 2, '-l', 'none', '-s', $ctl,
    '--', $^X, $forker, $marker, $hold]);
$pid = $c->pid;
ok(wait_for(sub { -e $marker }, 60, 'the 1,000 forks'), 'orphans: the worker forked');
is(slurp($marker), "1000\n", 'orphans: 1,000 children');
my $most = 0;
ok(wait_for(sub { my @k = worker_pids($pid); $most = @k if @k > $most; $most >= 1001 }, 30,
    '1,000 orphans and a worker'), 'orphans: the worker exited, clusterd adopted its 1,000 children')
    or diag("clusterd had up to $most children");
close($holder);		# the orphans read the end of the FIFO and exit
ok(wait_for(sub { my @k = worker_pids($pid); scalar(live_workers($pid, 'sleep')) == 2 && @k == 2 }, 30,
    '2 children'), 'orphans: all reaped, 2 workers left');
my @z = child_zombies($pid);
is(scalar(@z), 0, 'orphans: no zombie');
ok(answers(2), 'orphans: status answers');
my $new = nlines(log_text($c));
cmp_ok($new, '<=', 10, "orphans: no line per orphan in the log ($new lines)");
kill TERM => $pid;
is(wait_exit($c, 15), 0, 'orphans: exit 0');

# --- A worker that closes its stdout and stderr -----------------------------

for my $prefix ('no', 'yes') {
	my $f = write_file("$TMPDIR/closer.conf", <<"END");
[clusterd]
workers = 2
log_prefix = $prefix
[program]
command = /bin/sh -c 'echo before; exec >&- 2>&-; exec sleep 1000'
END
	$c = start_clusterd(args => ['-c', $f, '-l', 'none', '-s', $ctl]);
	$pid = $c->pid;
	my @w = wait_workers($pid, 2, 10, 'sleep');
	is(scalar(@w), 2, "closed stdout (log_prefix $prefix): 2 workers");
	ok($c->wait_log(qr/before/), "closed stdout (log_prefix $prefix): their output came first");
	# Both run sleep: they closed their output before that exec, so the
	# pipes' ends wait to be read; an answer proves clusterd's loop has
	# gone round since, and read them.
	ok(answers(2), "closed stdout (log_prefix $prefix): status answers");
	my $cpu0 = proc_cpu($pid);
	my $fds = fd_count($pid);
	# Two seconds to measure: an idle loop costs no CPU in any build (the
	# sanitizers slow work, not waiting), a loop spinning on a closed pipe
	# costs all 2 s; so the bound is not scaled by CLUSTERD_TEST_SLOW.
	sleep(2);
	my $cpu = proc_cpu($pid) - $cpu0;
	ok(answers(2), "closed stdout (log_prefix $prefix): status answers 2 s later");
	cmp_ok($cpu, '<=', 0.05, "closed stdout (log_prefix $prefix): clusterd idle (${cpu}s CPU in 2 s)");
	is_deeply([live_workers($pid, 'sleep')], [sort { $a <=> $b } @w],
	    "closed stdout (log_prefix $prefix): the workers run on");
	is(fd_count($pid), $fds, "closed stdout (log_prefix $prefix): fd count steady");
	ok(!$c->log_matches(qr/exited|killed|restarting/), "closed stdout (log_prefix $prefix): nothing died");
	kill TERM => $pid;
	is(wait_exit($c, 15), 0, "closed stdout (log_prefix $prefix): exit 0");
}

# --- clusterd's own stderr goes away ----------------------------------------

{
	pipe(my $r, my $wr) or die "pipe: $!";
	my $kid = $stderr_kid = fork() // die;
	if ($kid == 0) {
		close($r);
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>&', $wr);
		open(STDERR, '>&', $wr);
		{ no warnings 'exec'; exec($CLUSTERD, '-n', 1, '-l', 'none', '-s', $ctl, '--', 'sleep', '1000'); }
		POSIX::_exit(99);
	}
	close($wr);
	my $first = <$r>;
	like($first // '', qr/^clusterd: /, 'closed stderr: clusterd logs to a pipe');
	close($r);	# the reader goes away
	my ($sleeper) = wait_workers($kid, 1, 5, 'sleep');
	kill(KILL => $sleeper) if $sleeper;	# something to log: a death
	# The death is logged before the slot starts again: a new worker
	# proves clusterd wrote to the closed pipe and went on.
	my ($next) = wait_for(sub { my @n = grep { $_ != ($sleeper // 0) } live_workers($kid, 'sleep');
	    @n ? $n[0] : 0 }, 5, 'a new worker');
	ok($next, 'closed stderr: the dead worker is replaced');
	ok(alive($kid), 'closed stderr: clusterd survives writing to a closed pipe (no SIGPIPE)');
	ok(answers(2), 'closed stderr: status answers');
	kill(TERM => $kid);
	my $status;
	my $done = wait_for(sub { waitpid($kid, POSIX::WNOHANG()) == $kid && defined($status = $?) }, 10);
	ok($done && $status == 0, 'closed stderr: exit 0 on SIGTERM')
	    or diag('wait status ' . ($status // 'none: still running'));
	kill(KILL => $kid) unless $done;
	waitpid($kid, 0) unless $done;
	$stderr_kid = undef;
}

done_testing();
