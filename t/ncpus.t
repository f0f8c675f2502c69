# The default worker count: the CPUs this process may use.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use POSIX qw(ceil);

# Expected: sched_getaffinity (nproc, without OMP_* overrides), capped by a
# cgroup v2 cpu.max quota.
delete local @ENV{qw(OMP_NUM_THREADS OMP_THREAD_LIMIT)};
chomp(my $cpus = `nproc`);
my ($cg) = (slurp('/proc/self/cgroup') // '') =~ /^0::(\S+)$/m;
if (defined $cg) {
	my $max = slurp("/sys/fs/cgroup$cg/cpu.max") // '';
	if ($max =~ /^(\d+) (\d+)/) {
		my $q = ceil($1 / $2);
		$cpus = $q if $q < $cpus;
	}
}
$cpus = 1 if $cpus < 1;

my $c = start_clusterd(args => ['-l', '127.0.0.1:0', '--', 'sleep', '1000']);
my @w = wait_workers($c->pid, $cpus, 5, 'sleep');
is(scalar(@w), $cpus, "no -n: $cpus workers");
is(proc_env($w[0] // 0)->{CLUSTERD_WORKERS}, $cpus, "CLUSTERD_WORKERS=$cpus");
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

SKIP: {
	skip('no taskset', 2) unless -x '/usr/bin/taskset';
	$c = start_clusterd(binary => '/usr/bin/taskset',
	    args => ['-c', '0', $CLUSTERD, '-l', '127.0.0.1:0', '--', 'sleep', '1000']);
	@w = wait_workers($c->pid, 1, 5, 'sleep');
	is(scalar(@w), 1, 'pinned to one CPU: 1 worker');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

done_testing();
