# Issue 16 §3: with stderr the journal (JOURNAL_STREAM names it), clusterd
# speaks the journal's native protocol: entries with MESSAGE, PRIORITY,
# SYSLOG_IDENTIFIER and the CLUSTERD_* fields; worker output (log_prefix)
# as entries with the worker's fields; an entry too big for a datagram as
# a sealed memfd; a value with a newline in the binary-safe form; a
# stalled journal holds up nothing (entries queue, or are counted); plain
# "<N>" lines on stderr when no journal listens, or when it goes away.
#
# The journal is t/bin/journal-recv, which decodes entries exactly as the
# protocol is documented, bound at /run/systemd/journal/socket in a private
# mount namespace (unshare -m, a tmpfs over /run/systemd): the real path,
# no hook in clusterd.
use strict;
use warnings;

BEGIN {
	# Into a mount namespace of our own before anything else is made.
	unless ($ENV{CLUSTERD_TEST_MOUNT_NS}) {
		require Test::More;
		Test::More::plan(skip_all => 'a private mount namespace needs root')
		    if $> != 0;
		Test::More::plan(skip_all => '/run/systemd is needed to mount over')
		    unless -d '/run/systemd';
		Test::More::plan(skip_all => 'unshare -m does not work here')
		    if system('unshare -m --propagation private true 2>/dev/null') != 0;
		$ENV{CLUSTERD_TEST_MOUNT_NS} = 1;
		exec('unshare', '-m', '--propagation', 'private', $^X, $0, @ARGV)
		    or die "unshare: $!";
	}
}

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes ();
use Clusterd;

my $SOCK = '/run/systemd/journal/socket';
system('mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run/systemd') == 0
    or BAIL_OUT('cannot mount a tmpfs over /run/systemd');
mkdir('/run/systemd/journal') or BAIL_OUT("mkdir: $!");

# The journal: decoded entries, one JSON object a line, in $out.
my @helpers;
sub start_journal {
	my ($out) = @_;
	unlink($SOCK);
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		{ exec($PYTHON3, "$TOP_SRCDIR/t/bin/journal-recv", $SOCK, $out) }
		POSIX::_exit(99);
	}
	push(@helpers, $pid);
	wait_for(sub { -S $SOCK }, 5, 'the journal socket') or BAIL_OUT('no journal');
	return $pid;
}
sub stop_journal {
	my ($pid) = @_;
	kill(KILL => $pid);
	waitpid($pid, 0);
	@helpers = grep { $_ != $pid } @helpers;
}
END { kill(KILL => $_) for @helpers }

sub entries {
	my ($out) = @_;
	my @e;
	for (split(/\n/, slurp($out) // '')) {
		my $e = eval { decode_json($_) };
		push(@e, $e // { _errors => ["not JSON: $_"] });
	}
	return @e;
}

# perl sets JOURNAL_STREAM to its stderr's device:inode, as systemd does
# for StandardError=journal, and execs clusterd.
sub journal_args {
	return (binary => $^X, args => ['-e', <<'END', $CLUSTERD, @_]);
my @st = stat(STDERR);
$ENV{JOURNAL_STREAM} = "$st[0]:$st[1]";
exec { $ARGV[0] } @ARGV or die "exec: $!";
END
}

my $worker = write_file("$TMPDIR/app", <<"END");
#!/bin/sh
echo "out line from \$CLUSTERD_WORKER_ID"
echo "<3>an error of worker \$CLUSTERD_WORKER_ID" >&2
if [ "\$CLUSTERD_WORKER_ID" = 1 ] && [ ! -e $TMPDIR/long.done ]; then
	: > $TMPDIR/long.done
	head -c 70000 /dev/zero | tr '\\0' x; echo
fi
exec sleep 1000
END
chmod(0755, $worker);
my $ctl = "$TMPDIR/ctl.sock";
my $conf = "$TMPDIR/web.conf";
my $good = <<"END";
[clusterd]
name = web
log_prefix = yes
log_format = json
control = $ctl
[program]
command = $worker
END
write_file($conf, $good);

# 1. The journal listens: every line is an entry, none goes to stderr.
my $out = "$TMPDIR/journal-1.jsonl";
my $j = start_journal($out);
my $c = start_clusterd(journal_args('-v', '-n', 2, '-l', '127.0.0.1:0', '-c', $conf));
my $by = sub {
	my ($k, $v) = @_;
	return grep { ($_->{$k} // '') eq $v } entries($out);
};
ok(wait_for(sub { $by->('MESSAGE', 'clusterd: 2 workers ready') }, 10, '2 workers ready'),
    'started: "2 workers ready" is an entry') or diag(slurp($c->log_file));
ok(wait_for(sub { grep { $_->{_memfd} } entries($out) }, 5, 'the long line'),
    'a 70000-byte line: its first 64 KiB came as a memfd');
ok(wait_for(sub { $by->('MESSAGE', 'out line from 0') && $by->('MESSAGE', 'an error of worker 1')
    && grep { ($_->{MESSAGE} // '') =~ /^x{4464}$/ } entries($out) }, 5, 'the workers\' lines'),
    'the workers\' lines came in');

my @all = entries($out);
is(scalar(grep { $_->{_errors} } @all), 0, 'every entry decodes by the protocol')
    or diag(explain([grep { $_->{_errors} } @all]));
is(scalar(grep { !defined $_->{MESSAGE} || !defined $_->{PRIORITY} } @all), 0,
    'every entry has MESSAGE and PRIORITY');
my @own = grep { ($_->{SYSLOG_IDENTIFIER} // '') eq 'clusterd' } @all;
my ($listen) = grep { $_->{MESSAGE} =~ /^clusterd: listening on 127\.0\.0\.1:\d+ \(listen0\)$/ } @own;
ok($listen, 'MESSAGE is the line as it was on the stream, "clusterd: " and all');
is($listen->{PRIORITY}, 6, 'info: PRIORITY=6');
is($listen->{CLUSTERD_EVENT}, 'listening', 'CLUSTERD_EVENT=listening');
is($listen->{CLUSTERD_NAME}, 'web', 'CLUSTERD_NAME=web');
my @started = grep { ($_->{CLUSTERD_EVENT} // '') eq 'worker_started' } @own;
is(scalar(@started), 2, 'two worker_started entries');
my %pid_of = map { ($_->{CLUSTERD_WORKER_ID} => $_->{CLUSTERD_WORKER_PID}) } @started;
is_deeply([sort keys %pid_of], [0, 1], 'CLUSTERD_WORKER_ID 0 and 1');
for my $e (@started) {
	like($e->{MESSAGE}, qr/^clusterd: worker $e->{CLUSTERD_WORKER_ID} \(pid $e->{CLUSTERD_WORKER_PID}\) started$/,
	    "worker $e->{CLUSTERD_WORKER_ID}: the fields are the message's");
	is($e->{CLUSTERD_GENERATION}, 1, 'CLUSTERD_GENERATION=1');
}
my @ready = grep { ($_->{CLUSTERD_EVENT} // '') eq 'worker_ready' } @own;
ok(@ready && $ready[0]{PRIORITY} == 7, 'debug (-v): worker_ready, PRIORITY=7');

# Worker output: the worker's fields, the program as SYSLOG_IDENTIFIER.
my ($o0) = grep { $_->{MESSAGE} eq 'out line from 0' } @all;
ok($o0, 'a worker line is an entry of its own');
is($o0->{SYSLOG_IDENTIFIER}, 'app', 'SYSLOG_IDENTIFIER: the program');
is($o0->{SYSLOG_PID}, $pid_of{0}, 'SYSLOG_PID: the worker');
is($o0->{CLUSTERD_WORKER_ID}, 0, 'CLUSTERD_WORKER_ID=0');
is($o0->{CLUSTERD_WORKER_PID}, $pid_of{0}, 'CLUSTERD_WORKER_PID');
is($o0->{CLUSTERD_GENERATION}, 1, 'CLUSTERD_GENERATION');
is($o0->{CLUSTERD_EVENT}, 'output', 'CLUSTERD_EVENT=output');
is($o0->{CLUSTERD_STREAM}, 'stdout', 'CLUSTERD_STREAM=stdout');
is($o0->{PRIORITY}, 6, 'stdout: PRIORITY=6');
my ($e1) = grep { $_->{MESSAGE} eq 'an error of worker 1' } @all;
ok($e1, 'a "<3>" line: the prefix taken off');
is($e1->{PRIORITY}, 3, '"<3>": PRIORITY=3');
is($e1->{CLUSTERD_STREAM}, 'stderr', 'CLUSTERD_STREAM=stderr');
my @long = grep { $_->{MESSAGE} =~ /^x+$/ } @all;
is(join(',', map { length($_->{MESSAGE}) } @long), '65536,4464',
    'the long line in two pieces, 64 KiB and the rest');

# A killed worker: its exit entry carries its fields, at warning level.
kill(KILL => $pid_of{1});
my ($exit) = ();
wait_for(sub { ($exit) = grep { ($_->{CLUSTERD_EVENT} // '') eq 'worker_exited' }
    entries($out); $exit }, 5, 'the exit entry');
ok($exit, 'the exit is an entry') or diag(slurp($out));
is($exit->{CLUSTERD_WORKER_ID}, 1, 'exit: CLUSTERD_WORKER_ID=1');
is($exit->{CLUSTERD_WORKER_PID}, $pid_of{1}, 'exit: its pid');
is($exit->{CLUSTERD_GENERATION}, 1, 'exit: its generation');
is($exit->{PRIORITY}, 4, 'exit and restart: PRIORITY=4');
my $p1 = $pid_of{1};
like($exit->{MESSAGE}, qr/^clusterd: worker 1 \(pid $p1\) killed by signal 9; restarting now$/,
    'exit: the message as ever');

# A reload of a bad file: refused, at error level.
write_file($conf, $good . "bogus = 1\n");
kill(HUP => $c->pid);
my ($refused) = ();
wait_for(sub { ($refused) = $by->('CLUSTERD_EVENT', 'reload_refused'); $refused },
    5, 'reload_refused');
ok($refused, 'a refused reload is an entry');
is($refused->{PRIORITY}, 3, 'error: PRIORITY=3');
write_file($conf, $good);

# An upgrade in place: the new image speaks to the journal too.
my ($ucode, $uout, $uerr) = clusterctl($ctl, 'upgrade', $CLUSTERD);
is($ucode, 0, 'clusterctl upgrade') or diag($uout, $uerr);
my ($upgraded) = ();
wait_for(sub { ($upgraded) = grep { ($_->{MESSAGE} // '') =~ /^clusterd: upgraded from / }
    entries($out); $upgraded }, 10, 'the upgraded entry');
ok($upgraded, 'after an upgrade the new image\'s lines are entries');
is($upgraded->{CLUSTERD_EVENT}, 'upgrade', 'CLUSTERD_EVENT=upgrade');

kill(TERM => $c->pid);
is(wait_exit($c, 10), 0, 'exit 0');
ok($by->('MESSAGE', 'clusterd: stopped'), '"stopped" is an entry');
is(slurp($c->log_file), '', 'nothing went to stderr (the journal wins over json)');

# 2. A value with a newline (a program named so): the binary-safe form.
my $odd = "$TMPDIR/odd\nname";
write_file($odd, "#!/bin/sh\necho odd\nexec sleep 1000\n");
chmod(0755, $odd);
$out = "$TMPDIR/journal-2.jsonl";
stop_journal($j);
$j = start_journal($out);
$c = start_clusterd(journal_args('-n', 1, '-l', 'none', '-s', $ctl, '-c', do {
	write_file("$TMPDIR/odd.conf", "[clusterd]\nlog_prefix = yes\n")
}, '--', $odd));
ok(wait_for(sub { $by->('MESSAGE', 'odd') }, 10, 'the odd worker'), 'the odd worker\'s line')
    or diag(slurp($c->log_file));
my ($oe) = $by->('MESSAGE', 'odd');
is($oe->{SYSLOG_IDENTIFIER}, "odd\nname", 'SYSLOG_IDENTIFIER with a newline, whole');
is_deeply($oe->{_binary}, ['SYSLOG_IDENTIFIER'], 'sent in the binary-safe form');

# 3. The journal goes away: clusterd says so on stderr and goes on there.
stop_journal($j);
my ($w) = worker_pids($c->pid);
kill(KILL => $w) if $w;
ok(wait_log($c, qr/^<4>clusterd: the journal's socket: .*; logging to stderr$/m),
    'the journal went away: "<4>" lines on stderr from then on') or diag(slurp($c->log_file));
ok(wait_log($c, qr/^<6>clusterd: worker 0 \(pid \d+\) started$/m),
    'and the next lines follow there');
kill(TERM => $c->pid);
is(wait_exit($c, 10), 0, 'exit 0');

# 4. A stalled journal (its reader stopped): supervision goes on, the
# entries wait in clusterd's queue (past what the socket holds, 512
# datagrams by default), and come out, or are counted, once it reads again.
sub restarts {
	my $st = ctl_status($ctl) or return -1;
	my $n = 0;
	$n += $_->{restarts} // 0 for @{ $st->{workers} // [] };
	return $n;
}
$out = "$TMPDIR/journal-5.jsonl";
$j = start_journal($out);
my $crash = write_file("$TMPDIR/crash.conf",
    "[program]\nstable_after = 1ms\nbackoff_initial = 1ms\nbackoff_max = 1ms\n");
$c = start_clusterd(journal_args('-c', $crash, '-s', $ctl, '-n', 4, '-l', 'none',
    '--', '/bin/false'));
ok(wait_for(sub { $by->('CLUSTERD_EVENT', 'worker_exited') }, 10, 'a crash'),
    'a crash loop, in the journal');
kill(STOP => $j);
my $r0 = restarts();
ok(wait_for(sub { restarts() >= $r0 + 400 }, 60, '400 respawns'),
    'the journal stalled: respawns go on (400 more, 800 lines)');
my $t0 = Time::HiRes::time();
my ($scode) = clusterctl($ctl, 'status');
# A loop held up by the journal would not answer before it reads again;
# a crash loop under sanitizers may take a second.
ok(defined($scode) && Time::HiRes::time() - $t0 < timeout(3),
    'clusterctl status answers while the journal is stalled');
kill(CONT => $j);
ok(wait_for(sub { scalar(grep { ($_->{MESSAGE} // '') =~ /\(pid \d+\) exited with status 1; restarting/ }
    entries($out)) > 400 || $by->('CLUSTERD_EVENT', 'log_dropped') }, 20, 'the queued entries'),
    'the journal reads again: the queued entries come out, or their loss is counted');
kill(TERM => $c->pid);
is(wait_exit($c, 10), 0, 'exit 0');
is(slurp($c->log_file), '', 'nothing went to stderr');
stop_journal($j);

# 5. No journal: no socket file, then a socket nobody reads (ENOENT,
# ECONNREFUSED): "<N>" lines on stderr, as before.
unlink($SOCK);
for my $case ('no socket file', 'nobody listening') {
	if ($case eq 'nobody listening') {
		require IO::Socket::UNIX;
		my $s = IO::Socket::UNIX->new(Type => Socket::SOCK_DGRAM(), Local => $SOCK)
		    or die "bind: $!";
		close($s);	# the file stays, nobody behind it
		ok(-S $SOCK, 'a socket file with nobody behind it');
	}
	$c = start_clusterd(journal_args('-n', 1, '-l', '127.0.0.1:0', '--', $HELLO));
	ok(wait_log($c, qr/^<6>clusterd: 1 worker ready$/m), "$case: \"<6>clusterd: \" lines")
	    or diag(slurp($c->log_file));
	kill(TERM => $c->pid);
	is(wait_exit($c), 0, "$case: exit 0");
	is(scalar(grep { !/^<[0-7]>clusterd: / } split(/\n/, slurp($c->log_file))), 0,
	    "$case: every line has its <N>");
}

done_testing();
