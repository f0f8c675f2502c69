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

# Not at rest: a rolling restart under way (each new worker takes 1s).
my $conf = write_file("$TMPDIR/slow.conf", <<"END");
[program]
command = $HELLO
ready = 1s
END
my $ctl2 = "$TMPDIR/slow.sock";
my $port2 = free_port();
my $c2 = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port2", '-s', $ctl2,
    '-c', $conf]);
ok(wait_settled($ctl2, 2, 1), 'a second cluster: 2 ready');
my $restart = spawn_clusterctl(args => ['-s', $ctl2, 'restart']);
ok(wait_for(sub { ((ctl_status($ctl2) // {})->{state} // '') eq 'restarting' }, 5,
    'the restart'), 'a rolling restart runs');
($code, $out, $err) = clusterctl($ctl2, 'upgrade', $ALT);
is($code, 1, 'upgrade during a rolling restart: exit 1');
like($out . $err, qr/upgrade refused: a (?:rolling restart is under way|worker is being replaced or stopped); try again later/,
    'refused: not at rest');
my ($rcode) = finish_clusterctl($restart, 20);
is($rcode, 0, 'the rolling restart completes');
($code, $out, $err) = clusterctl($ctl2, 'upgrade', $ALT);
is($code, 0, 'after it, the upgrade goes') or diag($out, $err);
kill TERM => $c2->pid;
is(wait_exit($c2), 0, 'the second cluster: SIGTERM: exit 0');

kill TERM => $pid;
is(wait_exit($c), 0, 'SIGTERM after the upgrades: exit 0');
ok(!-e $ctl, 'the control socket is removed at exit');
ok(!alive($_), "worker $_ is gone") for values %{ workers_of($ctl) // {} };

# --- a new image that cannot take the cluster over falls back ---
$port = free_port();
$ctl = "$TMPDIR/fb.sock";
$c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port", '-s', $ctl, '--', $HELLO],
    env => { CLUSTERD_TEST_RESTORE_FAIL => 1 });
ok(wait_settled($ctl, 2, 1), 'fallback: 2 ready');
$before = workers_of($ctl);
($code, $out, $err) = clusterctl($ctl, 'upgrade', $ALT);
is($code, 1, 'fallback: the upgrade fails (exit 1)');
like($out . $err, qr/upgrade failed: .*could not take over; clusterd \Q$V1\E goes on/,
    'fallback: the old binary answers that it goes on');
ok($c->log_matches(qr/falling back to clusterd \Q$V1\E/), 'fallback: logged');
is_deeply(workers_of($ctl), $before, 'fallback: the same workers');
is(ctl_status($ctl)->{version}, $V1, 'fallback: the old version runs');
like(http_get('127.0.0.1', $port) // '', qr/^hello world/, 'fallback: they answer');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'fallback: SIGTERM: exit 0');

done_testing();
