# clusterctl: status as a table and as JSON (the schema of clusterctl(8)),
# its exit codes as a health check (0 all ready, 3 degraded, 4 no clusterd),
# signal to all workers or one slot, stop, and the default socket path
# shared with clusterd ($XDG_RUNTIME_DIR/clusterd, created 0700, socket
# 0600; a symlink or another user's directory refused).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(time);

ok(-x $CLUSTERCTL, "$CLUSTERCTL is built") or BAIL_OUT('no clusterctl');

# --- status, text and JSON ---
my $port = free_port();
my $usock = "$TMPDIR/u.sock";
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 3, '-l', "http=127.0.0.1:$port",
    '-l', "unix:$usock", '-s', $ctl, '--', $HELLO]);
my @w = wait_workers($c->pid, 3, 5, 'hello');
ok($c->wait_log(qr/^clusterd: 3 workers ready$/m), '3 workers ready');
my %pid = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => $_) } @w;
my $cpid = $c->pid;

my ($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 0, 'status: exit 0 when all are ready');
like($out, qr/\Aclusterd \(pid $cpid\), up \S+, generation 1, 3 of 3 workers ready\n/,
    'status: header line') or diag($out, $err);
like($out, qr/^command: \Q$HELLO\E$/m, 'status: command line');
# (columns after FD may come with later issues: OPTIONS)
like($out, qr/^SOCKET\s+ADDRESS\s+FD\b/m, 'status: socket table header');
like($out, qr/^http\s+127\.0\.0\.1:$port\s+3\b/m, 'status: socket http, fd 3');
like($out, qr/^listen1\s+unix:\Q$usock\E\s+4\b/m, 'status: socket listen1, fd 4');
like($out, qr/^ID\s+PID\s+STATE\s+GEN\s+UPTIME\s+RESTARTS\s+LAST EXIT\s+STATUS$/m,
    'status: worker table header');
for my $id (0 .. 2) {
	my $p = $pid{$id};
	like($out, qr/^$id\s+$p\s+ready\s+1\s+\S+\s+0\s+-/m,
	    "status: row $id: pid, ready, generation 1, 0 restarts, no last exit");
}

($code, $out, $err) = clusterctl($ctl, 'status', '--json');
is($code, 0, 'status --json: exit 0');
my $j = eval { decode_json($out) };
ok($j, 'status --json: stdout is one JSON object') or diag($out, $err, $@);
$j //= {};
is($j->{pid}, $cpid, 'json: pid');
ok(exists $j->{name} && !defined $j->{name}, 'json: name null');
ok($j->{uptime} >= 0 && $j->{uptime} < 60, 'json: uptime in seconds');
is($j->{generation}, 1, 'json: generation 1');
is($j->{state}, 'running', 'json: state running');
is($j->{workers_wanted}, 3, 'json: workers_wanted 3');
is($j->{workers_ready}, 3, 'json: workers_ready 3');
is($j->{command}, $HELLO, 'json: command');
my @schema = qw(name address port fd);	# (more keys may follow)
is_deeply([map { my $k = $_; +{ map { ($_ => $k->{$_}) } grep { exists $k->{$_} } @schema } }
    @{ $j->{sockets} // [] }], [
    { name => 'http', address => "127.0.0.1:$port", port => $port, fd => 3 },
    { name => 'listen1', address => "unix:$usock", port => undef, fd => 4 }],
    'json: sockets (a UNIX one has port null)');
is(scalar(@{ $j->{workers} // [] }), 3, 'json: three workers');
for my $wk (@{ $j->{workers} // [] }) {
	my $id = $wk->{id} // -1;
	is_deeply([sort keys %$wk], [sort qw(id pid state generation started
	    uptime restarts last_exit status slot_state queue hung recycle_at cgroup)],
	    "json: worker $id has the schema's keys");
	is($wk->{slot_state}, 'ready', "json: worker $id slot_state ready");
	is($wk->{pid}, $pid{$id}, "json: worker $id pid");
	is($wk->{state}, 'ready', "json: worker $id ready");
	is($wk->{generation}, 1, "json: worker $id generation 1");
	ok(abs(($wk->{started} // 0) - time()) < 60, "json: worker $id started (epoch seconds)");
	ok(defined $wk->{uptime} && $wk->{uptime} >= 0, "json: worker $id uptime");
	is($wk->{restarts}, 0, "json: worker $id restarts 0");
	ok(exists $wk->{last_exit} && !defined $wk->{last_exit}, "json: worker $id last_exit null");
	ok(exists $wk->{status} && !defined $wk->{status}, "json: worker $id status null");
}

# After a crash: restarts and last exit.
my $p1 = $pid{1};
kill KILL => $p1;
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $p1\) killed by signal 9; restarting now$/m),
    'worker 1 killed');
ok(wait_for(sub { my $s = ctl_status($ctl) // {}; ($s->{workers_ready} // 0) == 3 }, 5),
    'ready again');
my ($w1) = grep { $_->{id} == 1 } @{ (ctl_status($ctl) // {})->{workers} // [] };
is($w1->{restarts}, 1, 'json: worker 1 restarts 1');
is($w1->{last_exit}, 'killed by signal 9', 'json: worker 1 last_exit "killed by signal 9"');
($code, $out) = clusterctl($ctl, 'status');
like($out, qr/^1\s+\d+\s+ready\s+1\s+\S+\s+1\s+killed by signal 9/m,
    'status: row 1 says 1 restart, killed by signal 9');

# stop
($code, $out, $err) = clusterctl($ctl, 'stop');
is($code, 0, 'clusterctl stop: exit 0') or diag($out, $err);
like($out . $err, qr/stopping/, 'clusterctl stop: stopping');
is(wait_exit($c, 10), 0, 'clusterd exits 0');
ok($c->log_matches(qr/^clusterd: stopped$/m), 'log: stopped');
ok(!(grep { alive($_) } @w), 'every worker is gone');

# --- 4: no clusterd ---
($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 4, 'status with no clusterd (socket removed): exit 4');
ok(length($out . $err) > 0, 'and it says something') ;
{
	my $s = IO::Socket::UNIX->new(Type => 1, Local => "$TMPDIR/dead.sock",
	    Listen => 1);
}
($code) = clusterctl("$TMPDIR/dead.sock", 'status');
is($code, 4, 'status on a dead socket file: exit 4');

# --- 3: degraded, a slot in backoff ---
my $crash = write_file("$TMPDIR/crash1.sh", <<"END", 0755);
#!/bin/sh
[ "\$CLUSTERD_WORKER_ID" = 1 ] && exit 1
exec $HELLO
END
my $conf = write_file("$TMPDIR/backoff.conf", <<"END");
[program]
command = $crash
backoff_initial = 10s
END
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-s', $ctl,
    '-c', $conf]);
ok($c->wait_log(qr/^clusterd: worker 1 \(pid \d+\) exited with status 1; restarting in 10s$/m),
    'slot 1 goes into backoff (10s)');
($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 3, 'status: exit 3 when degraded');
like($out, qr/, 1 of 2 workers ready$/m, 'status: 1 of 2 workers ready') or diag($out, $err);
like($out, qr/^1\s+-\s+backoff\s+-\s+-\s+2\s+exited with status 1/m,
    'status: row 1: -, backoff, -, -, 2 restarts, exited with status 1');
($code, $out) = clusterctl($ctl, 'status', '--json');
is($code, 3, 'status --json: exit 3 too');
$j = eval { decode_json($out) } // {};
($w1) = grep { $_->{id} == 1 } @{ $j->{workers} // [] };
ok($w1 && exists $w1->{pid} && !defined $w1->{pid}, 'json: slot 1 pid null');
is($w1->{state}, 'backoff', 'json: slot 1 state backoff');
is($w1->{last_exit}, 'exited with status 1', 'json: slot 1 last_exit');
is($j->{workers_ready}, 1, 'json: workers_ready 1');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# --- 3 while starting (ready = notify, no READY=1 yet) ---
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '-s', $ctl, '--ready=notify',
    '--', 'sleep', '1000']);
wait_workers($c->pid, 1, 5, 'sleep');
($code, $out) = clusterctl($ctl, 'status');
is($code, 3, 'status: exit 3 while a worker is starting');
like($out, qr/^0\s+\d+\s+starting\s/m, 'status: row 0 starting');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# --- signal SIG [ID] ---
my $out_base = "$TMPDIR/sig";
# (a script file: clusterd would take {...} in an argument for a placeholder)
my $sigpl = write_file("$TMPDIR/sig.pl", <<'END');
$SIG{USR1} = sub {
	open(my $f, '>>', "$ENV{OUT}.$ENV{CLUSTERD_WORKER_ID}") or die;
	print $f "usr1\n";
	close($f);
};
$SIG{TERM} = sub { exit 0 };
sleep 1 while 1;
END
$c = start_clusterd(args => ['-n', 3, '-l', 'none', '-s', $ctl,
    '-e', "OUT=$out_base", '--', 'perl', $sigpl]);
@w = wait_workers($c->pid, 3, 5, 'perl');
is(scalar(@w), 3, 'three perl workers');
($code, $out, $err) = clusterctl($ctl, 'signal', 'USR1', 0);
is($code, 0, 'signal USR1 0: exit 0') or diag($out, $err);
like($out . $err, qr/sent SIGUSR1 to 1 worker\b/, 'signal USR1 0: sent SIGUSR1 to 1 worker');
ok(wait_for(sub { -s "$out_base.0" }, 5), 'worker 0 got SIGUSR1');
($code, $out, $err) = clusterctl($ctl, 'signal', 'USR1');
is($code, 0, 'signal USR1: exit 0') or diag($out, $err);
like($out . $err, qr/sent SIGUSR1 to 3 workers/, 'signal USR1: sent SIGUSR1 to 3 workers');
ok(wait_for(sub { 3 == grep { -s "$out_base.$_" } 0 .. 2 }, 5), 'all three got it');
ok(wait_for(sub { (slurp("$out_base.0") // '') eq "usr1\nusr1\n" }, 5),
    'worker 0 got two');
is(slurp("$out_base.1"), "usr1\n", 'worker 1 got only the second (so the first reached slot 0 only)');
is(slurp("$out_base.2"), "usr1\n", 'worker 2 got only the second');
($code) = clusterctl($ctl, 'signal', 'NOSUCHSIG');
is($code, 2, 'signal NOSUCHSIG: exit 2');
($code) = clusterctl($ctl, 'signal', 'USR1', 7);
ok(defined $code && $code != 0 && $code != 4, 'signal USR1 7 (no such slot): fails');
is(scalar(live_workers($c->pid, 'perl')), 3, 'the workers still run');
ok(!$c->log_matches(qr/killed by signal 10/), 'no worker died of SIGUSR1');

# unknown subcommand
($code) = clusterctl($ctl, 'frobnicate');
ok(defined $code && $code != 0 && $code != 4, 'clusterctl frobnicate: fails');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# --- the default path: $XDG_RUNTIME_DIR/clusterd/clusterd.sock, shared ---
# As root the default is /run/clusterd; to test the path logic without
# touching it, run clusterd and clusterctl as nobody: copies of them and of
# hello, for the checkout may be where nobody cannot enter (/root).
SKIP: {
	skip('no setpriv', 16) if $> == 0 && !-x '/usr/bin/setpriv';
	my ($CLUSTERD, $HELLO) = public_copies($CLUSTERD, $HELLO);
	local $CLUSTERCTL = (public_copies($CLUSTERCTL))[0];
	my %n = nobody_runtime();
	my @as = @{ $n{as} };
	my %env = %{ $n{env} };
	my ($uid, $pub, $xdg) = @n{qw(uid pub xdg)};
	my $start = sub {
		return start_clusterd(binary => $as[0] // $CLUSTERD,
		    args => [@as ? (@as[1 .. $#as], $CLUSTERD) : (), @_],
		    env => \%env);
	};
	$c = $start->('-n', 1, '-l', '127.0.0.1:0', '--', $HELLO);
	my $sock = "$xdg/clusterd/clusterd.sock";
	ok(wait_for(sub { -S $sock }, 5), "default path: $sock") or diag(log_text($c));
	my @st = stat("$xdg/clusterd");
	is(sprintf('%o', ($st[2] // 0) & 07777), '700', 'default path: the directory is created 0700');
	is($st[4], $uid, 'default path: owned by the user');
	is(sprintf('%o', ((stat($sock))[2] // 0) & 07777), '600', 'default path: the socket is 0600');
	# The socket is there before the worker is ready: status says 3 until then.
	wait_for(sub {
		($code, $out, $err) = run_clusterctl(prefix => \@as, env => \%env,
		    args => ['status']);
		defined($code) && $code == 0;
	}, 5, 'clusterctl status without -s');
	is($code, 0, 'clusterctl without -s finds it') or diag($out, $err);
	if (@as) {
		($code, $out, $err) = clusterctl($sock, 'status');
		is($code, 0, 'root is let in to a clusterd of another user');
	} else {
		pass('(root is let in: needs root)');
	}
	# A second unnamed clusterd on the same default path runs its cluster
	# without a control socket and says so (an explicit -s in use is exit 2).
	my $c2 = start_clusterd(binary => $as[0] // $CLUSTERD,
	    args => [@as ? (@as[1 .. $#as], $CLUSTERD) : (), '-n', 1, '-l',
	    '127.0.0.1:0', '--', $HELLO], env => \%env);
	ok($c2->wait_log(qr/^clusterd: 1 worker ready$/m),
	    'a second clusterd on the same default path still runs');
	my $c2err = $c2->log_text;
	like($c2err, qr/control socket \Q$sock\E is in use by another clusterd; running without one/,
	    'and warns that it has no control socket');
	($code, $out, $err) = clusterctl($sock, 'status');
	like($out, qr/\(pid ${\$c->pid}\)/, 'the socket still answers for the first one');
	kill TERM => $c2->pid;
	is(wait_exit($c2), 0, 'the second one stops with exit 0');
	like($c2err, qr/\Q$sock\E/, 'and it names the socket');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
	ok(!-e $sock, 'the socket is removed at exit');

	# [clusterd] name = web: clusterd-web.sock
	my $wconf = write_file("$pub/web.conf", "[clusterd]\nname = web\n");
	chmod(0644, $wconf);
	$c = $start->('-n', 1, '-l', '127.0.0.1:0', '-c', $wconf, '--', $HELLO);
	ok(wait_for(sub { -S "$xdg/clusterd/clusterd-web.sock" }, 5),
	    'name = web: clusterd-web.sock') or diag(log_text($c));
	($code, $out) = run_clusterctl(prefix => \@as, env => \%env,
	    args => ['-s', "$xdg/clusterd/clusterd-web.sock", 'status', '--json']);
	is((eval { decode_json($out) } // {})->{name}, 'web', 'json: name "web"');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');

	# A symlink instead of the directory: refused.
	my $xdg2 = "$pub/run2";
	mkdir($xdg2, 0700);
	chown($uid, -1, $xdg2);
	mkdir("$pub/elsewhere", 0700);
	chown($uid, -1, "$pub/elsewhere");
	symlink("$pub/elsewhere", "$xdg2/clusterd");
	$c = start_clusterd(binary => $as[0] // $CLUSTERD,
	    args => [@as ? (@as[1 .. $#as], $CLUSTERD) : (), '-n', 1, '-l',
	    '127.0.0.1:0', '--', $HELLO], env => { XDG_RUNTIME_DIR => $xdg2 });
	my $rc = wait_exit($c, 5);
	ok(defined $rc && $rc != 0, "a symlink as the directory: refused (exit ${\ ($rc // 'none')})");
	like(log_text($c), qr/\Q$xdg2\E\/clusterd/, 'the message names the directory');
	ok(!-e "$pub/elsewhere/clusterd.sock", 'nothing made through the symlink');
}

# Another user's directory (root only: root makes it, nobody runs clusterd).
SKIP: {
	skip('needs root', 2) if $> != 0 || !-x '/usr/bin/setpriv';
	my ($CLUSTERD, $HELLO) = public_copies($CLUSTERD, $HELLO);
	my $pub = tempdir('clusterd-xdg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	chmod(0755, $pub);
	mkdir("$pub/clusterd", 0700);	# root's
	$c = start_clusterd(binary => '/usr/bin/setpriv',
	    args => ['--reuid=nobody', '--regid=nogroup', '--clear-groups',
	    $CLUSTERD, '-n', 1, '-l', '127.0.0.1:0', '--', $HELLO],
	    env => { XDG_RUNTIME_DIR => $pub });
	my $rc = wait_exit($c, 5);
	ok(defined $rc && $rc != 0, "another user's directory: refused (exit ${\ ($rc // 'none')})");
	like(log_text($c), qr/\Q$pub\E\/clusterd/, 'the message names the directory');
}

done_testing();
