# clusterd as PID 1 of a container (decisions5 "Containers", CONTRACT §4
# Orphans and §6): in a new pid namespace (unshare --pid --fork
# --mount-proc) it reaps every orphaned grandchild of its workers, without
# --subreaper, and SIGTERM or SIGINT stop it with exit 0.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $UNSHARE = '/usr/bin/unshare';
my $NSENTER = '/usr/bin/nsenter';
plan(skip_all => "$UNSHARE is needed (Debian package util-linux)")
    unless -x $UNSHARE;
plan(skip_all => 'cannot make a pid namespace here (needs root or user namespaces)')
    unless system($UNSHARE, '--pid', '--fork', '--mount-proc', 'true') == 0;

# Each worker double-forks orphans before it becomes hello: two sleeps that
# run until killed, and one that exits by itself when $go exists.
my $go = "$TMPDIR/go";
my $worker = "(sleep 999 &); (sleep 998 &); "
    . "(sh -c 'while [ ! -e $go ]; do sleep 0.02; done; exit 7' &); "
    . "exec $HELLO";

sub status_field {
	my ($pid, $key) = @_;
	my ($v) = (slurp("/proc/$pid/status") // '') =~ /^\Q$key\E:\s*(.*)$/m;
	return $v;
}

sub children { worker_pids($_[0]) }

sub kids_named {
	my ($init, $cmd) = @_;
	return grep { join(' ', proc_cmdline($_)) eq $cmd } children($init);
}

# Start unshare; the namespace's init is its only child: clusterd.
sub start_pid1 {
	my (@args) = @_;
	my $c = start_clusterd(binary => $UNSHARE, args => ['--pid', '--fork',
	    '--mount-proc', '--kill-child', $CLUSTERD, @args]);
	my $init;
	wait_for(sub {
		($init) = grep { (proc_stat($_) // {})->{comm} eq 'clusterd' }
		    children($c->pid);
		$init;
	}, 5, 'clusterd under unshare');
	return ($c, $init // 0);
}

# A clusterd outside the namespace, with its workers' notify sockets in the
# /run both share: the one inside must leave them alone (it cannot see
# the outside pids, so "pid gone" means nothing there).
my $out = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '--',
    'sleep', '1000']);
my ($ow) = wait_workers($out->pid, 1, 5, 'sleep');
my $ons = (proc_env($ow // 0) // {})->{NOTIFY_SOCKET} // '';
ok(-S $ons, "the outside clusterd's worker has its notify socket ($ons)");

my $port = free_port();
my ($c, $init) = start_pid1('-n', 2, '-l', "127.0.0.1:$port", '--',
    '/bin/sh', '-c', $worker);
ok($init, 'clusterd runs under unshare');
like(status_field($init, 'NSpid') // '', qr/^$init\s+1$/,
    'clusterd is pid 1 in its pid namespace (NSpid)');
my @w = wait_workers($init, 2, 5, 'hello');
is(scalar(@w), 2, 'two hello workers');
for my $pid (@w) {
	my ($nspid) = (status_field($pid, 'NSpid') // '') =~ /(\d+)$/;
	is((proc_env($pid) // {})->{LISTEN_PID}, $nspid,
	    "$pid: LISTEN_PID is its pid inside the namespace ($nspid)");
}
ok(-S $ons, 'the clusterd in the pid namespace left the outside one\'s notify socket alone')
    or diag("gone: $ons");
kill TERM => $out->pid;
is(wait_exit($out), 0, 'the outside clusterd: exit 0');
is_deeply(hello_ids($port, 2), [0, 1], 'both workers answer');

# The orphans were re-parented to pid 1: clusterd.
my (@o1, @o2, @o3);
wait_for(sub {
	@o1 = kids_named($init, 'sleep 999');
	@o2 = kids_named($init, 'sleep 998');
	@o3 = grep { (proc_cmdline($_))[0] eq 'sh' } children($init);
	return @o1 == 2 && @o2 == 2 && @o3 == 2;
}, 5, 'six orphans as children of clusterd');
is(scalar(@o1) + scalar(@o2) + scalar(@o3), 6,
    'all six orphaned grandchildren are children of clusterd (pid 1)');

# They die: by a signal, and by exiting on their own.  None stays a zombie.
kill TERM => @o1;
write_file($go, '');
my @gone = (@o1, @o3);
ok(wait_for(sub { !grep { -e "/proc/$_" } @gone }, 5,
    'the dead orphans to be reaped'), 'the dead orphans are reaped')
    or diag(map { "$_: " . (status_field($_, 'State') // '?') . "\n" } @gone);
is(scalar(grep { (proc_stat($_) // {})->{state} eq 'Z' } children($init)), 0,
    'no zombie among clusterd\'s children');
is_deeply([sort { $a <=> $b } live_workers($init, 'hello')], \@w,
    'the workers run on');

# Inside the namespace: every process in its /proc, and its state.
SKIP: {
	skip("$NSENTER is needed", 2) unless -x $NSENTER;
	my $list = `$NSENTER --target $init --pid --mount /bin/sh -c 'for f in /proc/[0-9]*/status; do sed -n "s/^Name:\\t//p; s/^State:\\t\\(.\\).*/\\1/p" \$f | tr "\\n" " "; echo; done' 2>&1`;
	my @procs = grep { /\S/ } split(/\n/, $list);
	diag("inside: @procs") if $ENV{TEST_VERBOSE};
	ok(scalar(grep { /^clusterd S/ } @procs) == 1 && @procs >= 5,
	    'the namespace\'s /proc lists clusterd and the rest')
	    or diag($list);
	is(scalar(grep { / Z\s*$/ } @procs), 0, 'no zombie in the namespace')
	    or diag($list);
}

# SIGTERM to pid 1 from outside: a graceful stop, exit 0.
kill TERM => $init;
is(wait_exit($c), 0, 'SIGTERM to pid 1: clusterd (and unshare) exit 0');
# Its whole log is in now, what it made of the orphans' exits included.
ok(!$c->log_matches(qr/restarting|exited with status 7/),
    'the orphans were not taken for workers');
like($c->log_text, qr/^clusterd: stopping 2 workers \(SIGTERM, timeout \S+\)$/m,
    'log: stopping 2 workers');
like($c->log_text, qr/^clusterd: stopped$/m, 'log: stopped');
ok(!grep({ -e "/proc/$_" } @w, @o2), 'nothing of the namespace is left');

# SIGINT stops it the same way.
$port = free_port();
($c, $init) = start_pid1('-n', 1, '-l', "127.0.0.1:$port", '--', $HELLO);
@w = wait_workers($init, 1, 5, 'hello');
is(scalar(@w), 1, 'one worker');
kill INT => $init;
is(wait_exit($c), 0, 'SIGINT to pid 1: exit 0');
like($c->log_text, qr/^clusterd: stopped$/m, 'log: stopped');

# A worker that dies is still replaced as usual when clusterd is pid 1.
($c, $init) = start_pid1('-n', 1, '-l', '127.0.0.1:0', '--', $HELLO);
@w = wait_workers($init, 1, 5, 'hello');
kill KILL => $w[0] if @w;
my @w2;
ok(wait_for(sub { @w2 = live_workers($init, 'hello'); @w2 == 1 && $w2[0] != ($w[0] // 0) },
    5, 'a replacement'), 'a killed worker is replaced');
like($c->log_text, qr/^clusterd: worker 0 \(pid \d+\) killed by signal 9; restarting now$/m,
    'log: killed by signal 9; restarting now');
kill TERM => $init;
is(wait_exit($c), 0, 'exit 0');

done_testing();
