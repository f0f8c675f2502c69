# A clusterd in a pid namespace of its own (a container) that shares the
# host's cgroup v1 memory hierarchy does not take a running clusterd's
# v1 memory base for a dead one's: the pid in "clusterd.pidPID" is one it
# cannot see. And a clusterd whose v1 base went anyway (an admin's rmdir)
# makes it again when it upgrades, instead of failing to take its cluster
# over. Found when t/package.t's container ran beside t/metrics.t: the
# upgrade there fell back and stopped the workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Clusterd;

plan skip_all => 'needs root (a pid namespace)' if $> != 0;
my $UNSHARE = '/usr/bin/unshare';
plan skip_all => "no $UNSHARE" unless -x $UNSHARE;

my $ctl = "$TMPDIR/a.sock";
my $a = start_clusterd(args => ['-n', 1, '-l', 'none', '-s', $ctl, '--', 'sleep', '1000']);
# No test before the skip below: it may be the plan.
wait_log($a, qr/1 worker ready/, 10);
my ($code, $out) = clusterctl($ctl, 'status', '--json');
my $st = eval { JSON::PP->new->decode($out // '') } // {};
my $v1 = ($st->{cgroups} // {})->{v1_memory};
unless ($v1 && -d $v1) {
	kill(TERM => $a->pid);
	wait_exit($a, 15);
	plan skip_all => 'no cgroup v1 memory base here (' . (($st->{cgroups} // {})->{reason} // 'cgroups off')
	    . '): the v1 path is what this is about';
}
like($v1, qr{/clusterd\.pid${\ $a->pid}$}, "the host clusterd runs, its v1 memory base: $v1");

# The other clusterd, PID 1 of a new pid namespace, same cgroup hierarchy.
my $b = start_clusterd(binary => $UNSHARE, args => ['-p', '-f', '--kill-child=TERM',
    '--mount-proc', $CLUSTERD, '-n', 1, '-l', 'none', '-s', "$TMPDIR/b.sock", '--',
    'sleep', '1000']);
ok(wait_log($b, qr/1 worker ready/, 10), 'a clusterd in a pid namespace of its own runs')
    or diag(log_text($b));
ok(-d $v1, "the host clusterd's v1 base is still there");
unlike(log_text($b), qr/removed \Q$v1\E/, 'the other one did not remove it');
# unshare ignores SIGTERM while it waits: the signal goes to its child,
# the namespace's clusterd.
my ($inner) = worker_pids($b->pid);
ok($inner && kill(TERM => $inner), 'SIGTERM to the namespaced clusterd');
is(wait_exit($b, 15), 0, 'it stops, exit 0');

($code, $out) = clusterctl($ctl, 'upgrade', $CLUSTERD);
is($code, 0, 'clusterctl upgrade') or diag($out);
ok(wait_log($a, qr/upgraded from/, 10), 'upgraded in place');

# The base removed under it (it holds no worker's cgroup: no memory limits).
ok(rmdir($v1), "rmdir $v1") or diag("rmdir: $!");
($code, $out) = clusterctl($ctl, 'upgrade', $CLUSTERD);
is($code, 0, 'clusterctl upgrade with the base gone') or diag($out);
ok(wait_log($a, qr/\Q$v1\E was removed; made it again/, 10), 'it says it made the base again');
ok(-d $v1, 'the base is there again');
is(scalar(live_workers($a->pid, 'sleep')), 1, 'its worker runs on');
kill(TERM => $a->pid);
is(wait_exit($a, 15), 0, 'the host clusterd: exit 0');
done_testing();
